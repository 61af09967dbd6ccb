package server

import (
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// tokenHandlers builds the OAuth agents of gw's single-page apps
// (gateway.token_handler). Each reads its client secret and cookie keys
// now, so a missing one fails start-up or the reload that names it,
// before anything is swapped; the issuer is discovered on first use.
// Their metrics join the node's registry (a rebuilt agent reuses its
// counters).
func (w *wiring) tokenHandlers(gw *config.Gateway) ([]*tokenhandler.Handler, error) {
	hs := make([]*tokenhandler.Handler, 0, len(gw.TokenHandler.SPAs))
	for _, spa := range gw.TokenHandler.SPAs {
		h, err := tokenhandler.New(spa, tokenhandler.Options{
			Logger:     w.logger,
			Registerer: w.registry,
			Getenv:     w.getenv,
			BaseDir:    w.cfg.BaseDir(),
			Now:        w.now,
		})
		if err != nil {
			return nil, err // it names the app already
		}
		hs = append(hs, h)
	}
	return hs, nil
}
