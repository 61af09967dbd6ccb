package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
)

// The demo's application: the warehouse web app, owned by alice and
// subscribed to the stored catalog's warehouse version under the gold
// plan, so the console's applications and subscriptions pages show
// something on first start.
const (
	demoAppClient = "warehouse-web"
	demoAppOwner  = "alice"
	demoAppPlan   = "gold"
)

// seedApplications registers the demo's application and its
// subscription unless the web client already has an application (a
// second start, or one changed by hand, is left alone).
func seedApplications(ctx context.Context, s server.Services) error {
	if s.Applications == nil || s.Subscriptions == nil || s.Users == nil {
		return errors.New("demo: the application registry is not available")
	}
	if _, err := s.Applications.GetByClient(ctx, demoAppClient); err == nil {
		return nil
	} else if !errors.Is(err, registry.ErrNotFound) {
		return fmt.Errorf("demo application: %w", err)
	}
	owner, err := s.Users.Get(ctx, demoAppOwner)
	if err != nil {
		return fmt.Errorf("demo application owner: %w", err)
	}
	app, err := s.Applications.Create(ctx, registry.ApplicationSpec{
		Name: "Warehouse web app", ClientID: demoAppClient, Owner: owner.ID, Team: "warehouse",
		Environment: "sandbox", Description: "The demo's server-side web app (seeded by portcullis demo).",
	})
	if err != nil {
		return fmt.Errorf("demo application: %w", err)
	}
	if _, err := s.Subscriptions.Create(ctx, registry.SubscriptionSpec{
		ApplicationID: app.ID, API: catalogAPIName, Version: catalogAPIVersion, Plan: demoAppPlan,
	}); err != nil {
		return fmt.Errorf("demo subscription: %w", err)
	}
	return nil
}
