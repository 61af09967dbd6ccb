package console

import (
	"net/http"
	"slices"
)

type applicationsData struct {
	Applications []Application
	// Own: the list is the caller's own applications only.
	Own bool
}

// applications lists the applications; a developer who holds no wider
// role sees only those they own.
func (c *Console) applications(w http.ResponseWriter, r *http.Request, cl caller, v *view) {
	if c.o.Applications == nil {
		c.unavailable(w, r, v, "Applications are not available on this node: it does not run the application registry.")
		return
	}
	all, err := c.o.Applications.Applications(r.Context())
	if err != nil {
		c.fail(w, r, "list applications", err)
		return
	}
	d := applicationsData{Applications: all, Own: ownOnly(cl)}
	if d.Own {
		d.Applications = slices.DeleteFunc(slices.Clone(all), func(a Application) bool { return a.Owner != cl.pr.Subject })
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "applications.html", *v)
}

type subscriptionsData struct {
	Subscriptions []Subscription
	Own           bool
}

// subscriptions lists the subscriptions; a developer who holds no wider
// role sees only those of applications they own.
func (c *Console) subscriptions(w http.ResponseWriter, r *http.Request, cl caller, v *view) {
	if c.o.Subscriptions == nil {
		c.unavailable(w, r, v, "Subscriptions are not available on this node: it does not run the subscription registry.")
		return
	}
	all, err := c.o.Subscriptions.Subscriptions(r.Context())
	if err != nil {
		c.fail(w, r, "list subscriptions", err)
		return
	}
	d := subscriptionsData{Subscriptions: all, Own: ownOnly(cl)}
	if d.Own {
		d.Subscriptions = slices.DeleteFunc(slices.Clone(all), func(s Subscription) bool { return s.Owner != cl.pr.Subject })
	}
	v.Data = d
	c.render(w, r, http.StatusOK, "subscriptions.html", *v)
}

// ownOnly reports whether the caller sees only what they own: a
// developer without a role that reads everyone's.
func ownOnly(cl caller) bool {
	return !holdsAny(cl.pr.Scopes, []string{RolePlatform, RoleApprover, RoleAuditor, RolePublisher})
}
