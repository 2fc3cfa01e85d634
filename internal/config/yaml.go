package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/retire"
	"github.com/groo/pat-action/internal/safetext"
)

// Load reads and validates a configuration file. getenv (os.Getenv when
// nil) supplies GROO_ACCOUNTS_URL, used when groo.api-url is not written.
// Every problem found is returned at once, joined, each with file:line and
// the fix.
func Load(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data, getenv)
}

// Parse is Load on bytes; name is used in messages and to resolve relative
// *-file paths.
func Parse(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := &parser{file: name, now: time.Now(), getenv: getenv}
	p.parse(data)
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return p.cfg, nil
}

type parser struct {
	file   string
	now    time.Time
	getenv func(string) string
	cfg    *Config
	errs   []*Error
	// skip holds key nodes already reported as inline credentials, so
	// that the structured pass does not report them again as unknown.
	skip map[*yaml.Node]bool
	// flagged holds value nodes reported as credentials: one report each,
	// and no later message that would echo them.
	flagged map[*yaml.Node]bool
	// defaultSchedule is defaults.schedule's value node, for its messages.
	defaultSchedule *yaml.Node
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
		if p.flagged[n] {
			return
		}
	}
	// The path holds keys as written: a PAT written as a key is in it.
	msg := redactCredentials(fmt.Sprintf(format, args...))
	path = safetext.Line(redactCredentials(path))
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Path: path, Msg: msg})
}

func (p *parser) parse(data []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlError(err)
		return
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errs = append(p.errs, &Error{File: p.file, Line: 1, Msg: "the configuration is empty; start from examples/rotator.yaml"})
		return
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "the configuration must be a mapping with groo, github and targets keys")
		return
	}
	p.skip = map[*yaml.Node]bool{}
	p.flagged = map[*yaml.Node]bool{}
	p.scanCredentials(root, "")

	cfg := &Config{
		File:  p.file,
		Store: DefaultStore, Listen: DefaultListen,
		GitHub:   GitHubSettings{APIURL: DefaultGitHubURL, MutationInterval: DefaultMutationInterval},
		Defaults: Defaults{Schedule: DefaultSchedule, TTL: DefaultTTL, Grace: DefaultGrace, Jitter: DefaultJitter},
		Rotation: RotationSettings{WriteWindow: DefaultWriteWindow, ClockMargin: DefaultClockMargin},
		Daemon: DaemonSettings{Concurrency: DefaultConcurrency, LeaseMargin: DefaultLeaseMargin, SweepInterval: DefaultSweepInterval,
			RetryMin: DefaultRetryMin, RetryMax: DefaultRetryMax},
	}
	p.cfg = cfg
	var targets *yaml.Node
	var grooNode, githubNode, storeNode, passwordFileNode *yaml.Node
	var grooErrs, githubErrs bool
	p.mapping(root, "", map[string]func(k, v *yaml.Node, path string){
		"groo": func(k, v *yaml.Node, path string) {
			n := len(p.errs)
			grooNode = k
			p.parseGroo(v, path, &cfg.Groo)
			grooErrs = len(p.errs) > n
		},
		"github": func(k, v *yaml.Node, path string) {
			n := len(p.errs)
			githubNode = k
			p.parseGitHub(v, path, &cfg.GitHub)
			githubErrs = len(p.errs) > n
		},
		"store": func(k, v *yaml.Node, path string) {
			storeNode = v
			if s, ok := p.str(v, path); ok {
				cfg.Store = s
			}
		},
		"store-password-file": func(k, v *yaml.Node, path string) {
			passwordFileNode = v
			if s, ok := p.nonEmpty(v, path); ok {
				cfg.StorePasswordFile = s
			}
		},
		"listen": func(k, v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				cfg.Listen = s
			}
		},
		"defaults": func(k, v *yaml.Node, path string) { p.parseDefaults(v, path, &cfg.Defaults) },
		"rotation": func(k, v *yaml.Node, path string) { p.parseRotation(v, path, &cfg.Rotation) },
		"daemon":   func(k, v *yaml.Node, path string) { p.parseDaemon(v, path, &cfg.Daemon) },
		"audit":    func(k, v *yaml.Node, path string) { p.parseAudit(v, path, &cfg.Audit) },
		"status":   func(k, v *yaml.Node, path string) { p.parseStatus(k, v, path, &cfg.Status) },
		"notify":   func(k, v *yaml.Node, path string) { p.parseNotify(v, path, &cfg.Notify) },
		"targets":  func(k, v *yaml.Node, path string) { targets = v },
	})

	if grooNode == nil {
		p.errorf(root, "groo", "missing; add groo: {token-env: GROO_ROTATOR_PAT} (the bot's own Groo PAT)")
	} else if grooErrs {
		// Its own messages say what to fix.
	} else if cfg.Groo.TokenEnv == "" && cfg.Groo.TokenFile == "" {
		p.errorf(grooNode, "groo", "no credential; add token-env: NAME (an environment variable) or token-file: PATH")
	} else if cfg.Groo.TokenEnv != "" && cfg.Groo.TokenFile != "" {
		p.errorf(grooNode, "groo", "both token-env and token-file; keep one")
	}
	if githubNode == nil {
		p.errorf(root, "github", "missing; add github: {token-env: GITHUB_TOKEN} or github: {app: {id, installation-id, private-key-file}}")
	} else if !githubErrs {
		n := 0
		for _, set := range []bool{cfg.GitHub.TokenEnv != "", cfg.GitHub.TokenFile != "", cfg.GitHub.App != nil} {
			if set {
				n++
			}
		}
		switch {
		case n == 0:
			p.errorf(githubNode, "github", "no credential; add token-env: NAME, token-file: PATH or app: {id, installation-id, private-key-file}")
		case n > 1:
			p.errorf(githubNode, "github", "more than one credential (token-env, token-file, app); keep one")
		}
	}
	p.resolveGrooURL(grooNode, root)
	if storeNode == nil {
		storeNode = root
	}
	p.checkStore(storeNode, passwordFileNode)
	if p.defaultSchedule != nil {
		// At the value's own line: in a flow mapping (defaults: {schedule: ...})
		// that is the line of the mapping, not of the file's root.
		if _, err := parseSchedule(cfg.Defaults.Schedule); err != nil {
			p.errorf(p.defaultSchedule, "defaults.schedule", "%v", err)
		}
	}
	if dir := filepath.Dir(p.file); dir != "" {
		cfg.StorePasswordFile = relTo(dir, cfg.StorePasswordFile)
		cfg.Groo.TokenFile = relTo(dir, cfg.Groo.TokenFile)
		cfg.GitHub.TokenFile = relTo(dir, cfg.GitHub.TokenFile)
		cfg.Status.TokenFile = relTo(dir, cfg.Status.TokenFile)
		for i := range cfg.Notify.Webhooks {
			cfg.Notify.Webhooks[i].URLFile = relTo(dir, cfg.Notify.Webhooks[i].URLFile)
		}
		if cfg.GitHub.App != nil {
			cfg.GitHub.App.PrivateKeyFile = relTo(dir, cfg.GitHub.App.PrivateKeyFile)
		}
	}
	if cfg.Daemon.ShutdownTimeout == 0 {
		cfg.Daemon.ShutdownTimeout = duration.Sum(cfg.Rotation.WriteWindow, cfg.Daemon.LeaseMargin, 30*time.Second)
	}

	if targets == nil {
		p.errorf(root, "targets", "missing; add at least one target, e.g. targets: [{repository: octo/app}]")
		return
	}
	p.parseTargets(targets, cfg)
}

// resolveGrooURL applies groo.ResolveBaseURL (groo.api-url, else
// GROO_ACCOUNTS_URL, else the default) and checks a URL taken from the
// environment as groo.api-url's own value is checked.
func (p *parser) resolveGrooURL(grooNode, root *yaml.Node) {
	g := &p.cfg.Groo
	u, from := groo.ResolveBaseURL(g.APIURL, p.getenv)
	g.APIURL, g.APIURLFrom = strings.TrimRight(u, "/"), from
	if from != groo.FromEnv {
		return
	}
	if err := checkURL(u); err != nil {
		at := grooNode
		if at == nil {
			at = root
		}
		p.errorf(at, "groo.api-url", "%s applies (groo.api-url is not written): %v", groo.EnvBaseURL, err)
	}
}

func relTo(dir, path string) string {
	if path == "" || filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(dir, path)
}

// yamlError turns yaml.v3's "yaml: line N: msg" into file:N: msg.
func (p *parser) yamlError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		m = strings.TrimPrefix(m, "yaml: ")
		line := 1
		if rest, ok := strings.CutPrefix(m, "line "); ok {
			if i := strings.Index(rest, ":"); i > 0 {
				if n, err := strconv.Atoi(rest[:i]); err == nil {
					line, m = n, strings.TrimSpace(rest[i+1:])
				}
			}
		}
		p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: "not valid YAML: " + safetext.Line(redactCredentials(m))})
	}
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// mapping walks a mapping node, calling the handler of each known key and
// reporting unknown and duplicate keys.
func (p *parser) mapping(n *yaml.Node, path string, handlers map[string]func(k, v *yaml.Node, path string)) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		p.errorf(n, path, "want a mapping (key: value), got %s", kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if p.skip[k] {
			continue
		}
		key := k.Value
		kp := join(path, key)
		h, ok := handlers[key]
		if !ok {
			known := make([]string, 0, len(handlers))
			for name := range handlers {
				known = append(known, name)
			}
			sort.Strings(known)
			hint := ""
			if s := closest(key, known); s != "" {
				hint = fmt.Sprintf("did you mean %s? ", s)
			}
			p.errorf(k, kp, "unknown key; %sknown keys here: %s", hint, strings.Join(known, ", "))
			continue
		}
		if seen[key] {
			p.errorf(k, kp, "written twice in one mapping; keep one")
			continue
		}
		seen[key] = true
		h(k, v, kp)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (p *parser) str(v *yaml.Node, path string) (string, bool) {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		p.errorf(v, path, "want a string, got %s", kindName(v))
		return "", false
	}
	return v.Value, true
}

func (p *parser) nonEmpty(v *yaml.Node, path string) (string, bool) {
	s, ok := p.str(v, path)
	if ok && strings.TrimSpace(s) == "" {
		p.errorf(v, path, "empty; give a value or remove the key")
		return "", false
	}
	return strings.TrimSpace(s), ok
}

func (p *parser) boolean(v *yaml.Node, path string) (bool, bool) {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!bool" {
		var b bool
		if err := v.Decode(&b); err == nil {
			return b, true
		}
	}
	p.errorf(v, path, "want true or false, got %s", kindName(v))
	return false, false
}

func (p *parser) integer(v *yaml.Node, path string) (int64, bool) {
	if v.Kind == yaml.ScalarNode {
		if n, err := strconv.ParseInt(v.Value, 10, 64); err == nil {
			return n, true
		}
	}
	p.errorf(v, path, "want a whole number, got %s", kindName(v))
	return 0, false
}

// duration reads a duration in internal/duration's grammar (90m, 72h, 7d,
// 1d12h; no sign; one too long to hold is refused as such).
func (p *parser) duration(v *yaml.Node, path string) (time.Duration, bool) {
	s, ok := p.str(v, path)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	d, err := duration.Parse(s)
	if errors.Is(err, duration.ErrTooLong) {
		p.errorf(v, path, "%q is too long: durations stop at about 106751d (292 years); write a shorter one, e.g. 90d", s)
		return 0, false
	}
	if err != nil {
		p.errorf(v, path, "%q is not a duration: %s; write e.g. %s", s, durationWhy(s, err), duration.Examples)
		return 0, false
	}
	return d, true
}

// durationWhy is what duration.Parse found wrong in s, without the input
// and the examples it repeats.
func durationWhy(s string, err error) string {
	msg := strings.TrimPrefix(err.Error(), fmt.Sprintf("%v %q: ", duration.ErrSyntax, s))
	msg, _, _ = strings.Cut(msg, "write e.g.")
	msg = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(msg), ";"))
	if msg == "" {
		return "not Go's grammar"
	}
	return msg
}

func (p *parser) url(v *yaml.Node, path string) (string, bool) {
	s, ok := p.nonEmpty(v, path)
	if !ok {
		return "", false
	}
	if err := checkURL(s); err != nil {
		p.errorf(v, path, "%v", err)
		return "", false
	}
	return strings.TrimRight(s, "/"), true
}

// checkURL refuses what is not an http(s) URL, a URL with user info (never
// echoed: it may be a password or a token) and plain http off loopback.
func checkURL(s string) error {
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		return fmt.Errorf("%q is not an http(s) URL; write e.g. https://api.github.com", safetext.RedactURL(s))
	}
	if u, err := url.Parse(s); err != nil || u.User != nil {
		return fmt.Errorf("%q holds user info or does not parse; credentials never go in a URL: write the API's root without user@ "+
			"(e.g. %s) and name the credential with token-env or token-file", safetext.RedactURL(s), groo.DefaultBaseURL)
	}
	return plainHTTP(s)
}

// plainHTTP refuses an http:// URL whose host is not a loopback address:
// a credential goes with every request, and only an emulator on this
// machine may be reached in clear.
func plainHTTP(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL; write e.g. https://api.github.com", s)
	}
	if u.Scheme == "http" && !ghsecret.IsLoopback(u.Hostname()) {
		return fmt.Errorf("%q is plain http to %s, which is not a loopback address, so the credential would travel unencrypted "+
			"(plain http is only for an emulator on 127.0.0.1, ::1 or localhost); write https://%s", s, u.Hostname(), strings.TrimPrefix(strings.TrimRight(s, "/"), "http://"))
	}
	return nil
}

func (p *parser) parseGroo(n *yaml.Node, path string, g *GrooSettings) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"api-url":    assign(&g.APIURL, p.url),
		"token-env":  assign(&g.TokenEnv, p.envName),
		"token-file": assign(&g.TokenFile, p.nonEmpty),
	})
}

func (p *parser) envName(v *yaml.Node, path string) (string, bool) {
	s, ok := p.nonEmpty(v, path)
	if !ok {
		return "", false
	}
	for i, r := range s {
		if !(r == '_' || 'A' <= r && r <= 'Z' || 'a' <= r && r <= 'z' || i > 0 && '0' <= r && r <= '9') {
			p.errorf(v, path, "%q is not an environment variable name; write the variable's name (e.g. GROO_ROTATOR_PAT), not its value", s)
			return "", false
		}
	}
	return s, true
}

func (p *parser) parseGitHub(n *yaml.Node, path string, g *GitHubSettings) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"api-url":           assign(&g.APIURL, p.url),
		"token-env":         assign(&g.TokenEnv, p.envName),
		"token-file":        assign(&g.TokenFile, p.nonEmpty),
		"mutation-interval": assign(&g.MutationInterval, p.duration),
		"app": func(k, v *yaml.Node, path string) {
			app := &GitHubApp{}
			var idSet, instSet bool
			p.mapping(v, path, map[string]func(k, v *yaml.Node, path string){
				"id": func(_, v *yaml.Node, path string) {
					app.ID, idSet = p.integer(v, path)
				},
				"installation-id": func(_, v *yaml.Node, path string) {
					app.InstallationID, instSet = p.integer(v, path)
				},
				"private-key-file": func(_, v *yaml.Node, path string) {
					app.PrivateKeyFile, _ = p.nonEmpty(v, path)
				},
			})
			if !idSet {
				p.errorf(k, path, "missing id; add the App's numeric id (its settings page shows it)")
			}
			if !instSet {
				p.errorf(k, path, "missing installation-id; add the id of the App's installation on the organization")
			}
			if app.PrivateKeyFile == "" {
				p.errorf(k, path, "missing private-key-file; add the path of the App's PEM private key (never the key itself)")
			}
			g.App = app
		},
	})
}

func (p *parser) parseDefaults(n *yaml.Node, path string, d *Defaults) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"schedule": func(_, v *yaml.Node, path string) {
			p.defaultSchedule = v
			if x, ok := p.nonEmpty(v, path); ok {
				d.Schedule = x
			} else {
				p.defaultSchedule = nil // reported
			}
		},
		"ttl":          assign(&d.TTL, p.duration),
		"revoke-grace": assign(&d.Grace, p.duration),
		"jitter":       assign(&d.Jitter, p.duration),
	})
}

func (p *parser) parseRotation(n *yaml.Node, path string, r *RotationSettings) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"write-window": func(_, v *yaml.Node, path string) {
			if x, ok := p.duration(v, path); ok {
				if x < time.Second {
					p.errorf(v, path, "shorter than 1s; a write needs time to land, use e.g. 2m")
					return
				}
				if x > retire.MaxWindow {
					// Other writers trust no longer window in a token's description.
					p.errorf(v, path, "longer than %s, the longest window other writers trust; use e.g. 2m", retire.MaxWindow)
					return
				}
				r.WriteWindow = x
			}
		},
		"clock-margin": assign(&r.ClockMargin, p.duration),
	})
}

func (p *parser) parseDaemon(n *yaml.Node, path string, d *DaemonSettings) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"concurrency": func(_, v *yaml.Node, path string) {
			if x, ok := p.integer(v, path); ok {
				if x < 1 || x > 1000 {
					p.errorf(v, path, "%d is out of range; use 1 to 1000", x)
					return
				}
				d.Concurrency = int(x)
			}
		},
		"lease-margin": assign(&d.LeaseMargin, p.duration),
		"sweep-interval": func(_, v *yaml.Node, path string) {
			if x, ok := p.duration(v, path); ok {
				if x < 100*time.Millisecond {
					p.errorf(v, path, "too short; use e.g. 1m")
					return
				}
				d.SweepInterval = x
			}
		},
		"shutdown-timeout": assign(&d.ShutdownTimeout, p.duration),
		"retry-min": func(_, v *yaml.Node, path string) {
			if x, ok := p.duration(v, path); ok {
				if x < time.Second {
					p.errorf(v, path, "shorter than 1s; retrying faster only feeds a rate limit, use e.g. 1m")
					return
				}
				d.RetryMin = x
			}
		},
		"retry-max": assign(&d.RetryMax, p.duration),
	})
	if d.RetryMax < d.RetryMin {
		p.errorf(n, path, "retry-max (%s) is shorter than retry-min (%s); raise retry-max", duration.Format(d.RetryMax), duration.Format(d.RetryMin))
	}
}

// parseStatus reads the status page's bearer token: named, never inline.
func (p *parser) parseStatus(k, v *yaml.Node, path string, s *StatusSettings) {
	p.mapping(v, path, map[string]func(k, v *yaml.Node, path string){
		"token-env":  assign(&s.TokenEnv, p.envName),
		"token-file": assign(&s.TokenFile, p.nonEmpty),
	})
	if s.TokenEnv != "" && s.TokenFile != "" {
		p.errorf(k, path, "both token-env and token-file; keep one")
	}
}

// parseNotify reads the webhooks (URLs named, never inline: a webhook URL
// is a credential) and the thresholds.
func (p *parser) parseNotify(n *yaml.Node, path string, ns *NotifySettings) {
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"webhooks": func(_, v *yaml.Node, path string) {
			v = resolve(v)
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, path, "want a list of webhooks, e.g. [{url-env: PAT_ROTATOR_WEBHOOK}]")
				return
			}
			for i, item := range v.Content {
				ipath := fmt.Sprintf("%s[%d]", path, i)
				var w WebhookRef
				p.mapping(item, ipath, map[string]func(k, v *yaml.Node, path string){
					"url-env":  assign(&w.URLEnv, p.envName),
					"url-file": assign(&w.URLFile, p.nonEmpty),
					"url": func(k, _ *yaml.Node, path string) {
						p.errorf(k, path, "a webhook URL is a credential and is never written inline; put it in an environment variable (url-env: NAME) or a file (url-file: PATH)")
					},
					"format": func(_, v *yaml.Node, path string) {
						if s, ok := p.nonEmpty(v, path); ok {
							if s != "json" && s != "slack" {
								p.errorf(v, path, "%q is not a format; use json (the default) or slack", s)
								return
							}
							w.Format = s
						}
					},
				})
				switch {
				case w.URLEnv == "" && w.URLFile == "":
					p.errorf(item, ipath, "no URL; add url-env: NAME (an environment variable) or url-file: PATH")
				case w.URLEnv != "" && w.URLFile != "":
					p.errorf(item, ipath, "both url-env and url-file; keep one")
				default:
					ns.Webhooks = append(ns.Webhooks, w)
				}
			}
		},
		"failed-runs": func(_, v *yaml.Node, path string) {
			if x, ok := p.integer(v, path); ok {
				if x < 1 || x > 1000 {
					p.errorf(v, path, "%d is out of range; use 1 to 1000", x)
					return
				}
				ns.FailedRuns = int(x)
			}
		},
		"expiry-warning": assign(&ns.ExpiryWarning, p.duration),
		"stuck-revoke":   assign(&ns.StuckRevoke, p.duration),
	})
}

// parseAudit reads the audit policy. Each check can be turned off with
// "off"; a zero would silently mean the default, so it is refused.
func (p *parser) parseAudit(n *yaml.Node, path string, a *AuditSettings) {
	offOr := func(v *yaml.Node, path string, set func(*yaml.Node, string)) {
		if v.Kind == yaml.ScalarNode && (v.Value == "off" || (v.Tag == "!!bool" && v.Value == "false")) {
			set(nil, path)
			return
		}
		set(v, path)
	}
	dur := func(dst *time.Duration, what string) func(k, v *yaml.Node, path string) {
		return func(_, v *yaml.Node, path string) {
			offOr(v, path, func(v *yaml.Node, path string) {
				if v == nil {
					*dst = -1
					return
				}
				if x, ok := p.duration(v, path); ok {
					if x == 0 {
						p.errorf(v, path, "0 is not %s; give a duration such as 30d, or off to turn the check off", what)
						return
					}
					*dst = x
				}
			})
		}
	}
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"max-ttl":      dur(&a.MaxTTL, "a maximum TTL"),
		"unused-after": dur(&a.UnusedAfter, "an unused period"),
		"failed-runs": func(_, v *yaml.Node, path string) {
			offOr(v, path, func(v *yaml.Node, path string) {
				if v == nil {
					a.FailedRuns = -1
					return
				}
				if x, ok := p.integer(v, path); ok {
					if x < 1 || x > 1000 {
						p.errorf(v, path, "%d is out of range; use 1 to 1000 rotations in a row, or off", x)
						return
					}
					a.FailedRuns = int(x)
				}
			})
		},
	})
}

// targetFields collects a target's keys before they are combined.

// closest suggests the known key nearest to a misspelt one.
func closest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := levenshtein(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// assign makes a mapping handler that parses a value and stores it when it
// is valid (the parser has recorded the error otherwise).
func assign[T any](dst *T, parse func(*yaml.Node, string) (T, bool)) func(k, v *yaml.Node, path string) {
	return func(_, v *yaml.Node, path string) {
		if x, ok := parse(v, path); ok {
			*dst = x
		}
	}
}
