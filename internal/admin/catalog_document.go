package admin

// documentRoutes are the routes of whole catalog documents (export, plan,
// apply) for the remote CLI.
var documentRoutes = []route{}
