package daemon

import (
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/groo/pat-action/internal/config"
	"github.com/groo/pat-action/internal/groo"
)

// credSource is the bot's Groo PAT. From groo.token-file it is read again
// whenever the file changes (its modification time or size), so that an
// external manager (a Kubernetes Secret mount) renews it without a restart;
// a file that cannot be read or holds no PAT keeps the one in use, and says
// so once per change.
type credSource struct {
	cfg    *config.Config
	getenv func(string) string
	file   string
	log    func(msg string, args ...any)

	mu      sync.Mutex
	tok     groo.Token
	modTime time.Time
	size    int64
	bad     time.Time // the change already reported as unusable
}

func newCredSource(cfg *config.Config, getenv func(string) string, warn func(string, ...any)) (*credSource, error) {
	tok, err := grooCredential(cfg, getenv)
	if err != nil {
		return nil, err
	}
	c := &credSource{cfg: cfg, getenv: getenv, file: cfg.Groo.TokenFile, tok: tok, log: warn}
	if c.file != "" {
		if fi, err := os.Stat(c.file); err == nil {
			c.modTime, c.size = fi.ModTime(), fi.Size()
		}
	}
	return c, nil
}

// current is the PAT to use now.
func (c *credSource) current() groo.Token {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.file == "" {
		return c.tok
	}
	fi, err := os.Stat(c.file)
	if err != nil || (fi.ModTime().Equal(c.modTime) && fi.Size() == c.size) {
		return c.tok
	}
	tok, err := grooCredential(c.cfg, c.getenv) // the file, read and checked as at start
	if err == nil {
		c.tok, c.modTime, c.size = tok, fi.ModTime(), fi.Size()
		c.log("groo.token-file changed: using the new credential", "file", c.file, "last_four", tok.LastFour())
		return c.tok
	}
	if !fi.ModTime().Equal(c.bad) {
		c.bad = fi.ModTime()
		c.log("groo.token-file changed but holds no usable Groo PAT; keeping the credential in use", "file", c.file,
			"error", fmt.Sprint(err))
	}
	return c.tok
}
