package server

import (
	"context"

	"github.com/portcullis/portcullis/internal/console"
	"github.com/portcullis/portcullis/internal/registry"
)

var (
	_ console.ApplicationReader  = consoleApplications{}
	_ console.SubscriptionReader = consoleApplications{}
)

// consoleApplications shows the registry's applications and
// subscriptions to the console, each subscription with its
// application's name and owner (the console keeps a developer to their
// own by the owner).
type consoleApplications struct {
	apps *registry.Applications
	subs *registry.Subscriptions
}

func (c consoleApplications) Applications(ctx context.Context) ([]console.Application, error) {
	list, err := c.apps.List(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]console.Application, len(list))
	for i, a := range list {
		out[i] = console.Application{ID: a.ID, Name: a.Name, ClientID: a.ClientID, Owner: a.Owner, Team: a.Team,
			Environment: a.Environment, CreatedAt: a.CreatedAt}
	}
	return out, nil
}

func (c consoleApplications) Subscriptions(ctx context.Context) ([]console.Subscription, error) {
	apps, err := c.apps.List(ctx, "")
	if err != nil {
		return nil, err
	}
	byID := make(map[string]registry.Application, len(apps))
	for _, a := range apps {
		byID[a.ID] = a
	}
	list, err := c.subs.List(ctx, registry.SubscriptionFilter{})
	if err != nil {
		return nil, err
	}
	out := make([]console.Subscription, len(list))
	for i, s := range list {
		a := byID[s.ApplicationID]
		out[i] = console.Subscription{ID: s.ID, ApplicationID: s.ApplicationID, Application: a.Name, Owner: a.Owner,
			API: s.API, Version: s.Version, Plan: s.Plan, State: s.State, CreatedAt: s.CreatedAt}
	}
	return out, nil
}
