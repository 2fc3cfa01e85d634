package daemon

import (
	"os"
	"testing"

	"github.com/groo/pat-action/internal/pgtest"
)

// TestMain stops the throwaway PostgreSQL cluster the replica tests start.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
