package admin

// applicationRoutes are the routes of applications and subscriptions.
var applicationRoutes = []route{}
