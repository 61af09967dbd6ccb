package admin

// catalogRoutes are the routes of the stored catalog's API versions and
// plans.
var catalogRoutes = []route{}
