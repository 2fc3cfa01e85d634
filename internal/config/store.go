package config

import (
	"errors"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/audit/pgstore"
	"github.com/groo/pat-action/internal/audit/storeopen"
	"github.com/groo/pat-action/internal/safetext"
)

// checkStore refuses every store DSN storeopen.Open would refuse before it
// connects (storeopen.Check), so that validate lets through only a store
// that opens. A PostgreSQL DSN holding a password is refused without being
// echoed, and no later message repeats it.
func (p *parser) checkStore(storeNode, passwordFileNode *yaml.Node) {
	cfg := p.cfg
	err := storeopen.Check(cfg.Store, cfg.StorePasswordFile)
	switch {
	case err == nil:
	case errors.Is(err, pgstore.ErrInlinePassword):
		p.errorf(storeNode, "store", "the DSN holds a password (not shown); a password never goes in the configuration: "+
			"remove it from the DSN (postgres://USER@HOST:PORT/DB?sslmode=verify-full), write it to a file named by "+
			"store-password-file (or give PGPASSWORD or PGPASSFILE), and change the password if this file was shared")
		p.flagged[storeNode] = true
	case strings.HasPrefix(cfg.Store, "sqlite://") && cfg.StorePasswordFile != "":
		at := passwordFileNode
		if at == nil {
			at = storeNode
		}
		p.errorf(at, "store-password-file", "a sqlite:// store has no password; remove store-password-file, or use a PostgreSQL store")
	default:
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "open store: "), "open postgres store: ")
		msg = strings.TrimPrefix(msg, "open sqlite store: ")
		p.errorf(storeNode, "store", "%q is not a store DSN: %s", safetext.RedactURL(cfg.Store), msg)
	}
}
