// Package daemon is pat-rotator: it loads a fleet of targets from a YAML
// configuration, schedules their rotations with robfig/cron, serialises each
// use case with a lease in the store, paces GitHub writes per credential,
// sweeps the revokes left pending, and serves /healthz, /readyz and /metrics.
package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/retire"
	"github.com/groo/pat-action/internal/safetext"
)

// Defaults that apply when the configuration leaves a setting out.
const (
	DefaultGrooURL          = "https://accounts.groo.dev"
	DefaultGitHubURL        = "https://api.github.com"
	DefaultStore            = "sqlite://./pat-rotator.db"
	DefaultListen           = "127.0.0.1:9464"
	DefaultSchedule         = "0 3 * * *"
	DefaultTTL              = 72 * time.Hour
	DefaultGrace            = 15 * time.Minute
	DefaultJitter           = 10 * time.Minute
	DefaultWriteWindow      = 2 * time.Minute
	DefaultClockMargin      = 5 * time.Second
	DefaultLeaseMargin      = 30 * time.Second
	DefaultSweepInterval    = time.Minute
	DefaultConcurrency      = 4
	DefaultMutationInterval = time.Second
)

// GrooAccountsURLEnv overrides groo.api-url, as Groo's own CLI does.
const GrooAccountsURLEnv = "GROO_ACCOUNTS_URL"

// Config is a parsed and validated pat-rotator configuration. It holds the
// names of the places credentials live, never a credential.
type Config struct {
	File     string
	Groo     GrooSettings
	GitHub   GitHubSettings
	Store    string // DSN: sqlite:///abs.db, sqlite://./rel.db
	Listen   string // host:port of /healthz, /readyz, /metrics
	Defaults Defaults
	Rotation RotationSettings
	Daemon   DaemonSettings
	Audit    AuditSettings
	Targets  []*TargetConfig
}

// GrooSettings says where Groo is and where the bot's own PAT comes from.
type GrooSettings struct {
	APIURL    string
	TokenEnv  string
	TokenFile string // absolute, or relative to the configuration file
}

// GitHubSettings says where GitHub is and which credential writes secrets:
// a token (from the environment or a file) or a GitHub App installation.
type GitHubSettings struct {
	APIURL           string
	TokenEnv         string
	TokenFile        string
	App              *GitHubApp
	MutationInterval time.Duration // at least this long between mutating requests (1s)
}

// GitHubApp authenticates as an App installation.
type GitHubApp struct {
	ID             int64
	InstallationID int64
	PrivateKeyFile string
}

// Defaults apply to every target that does not set its own.
type Defaults struct {
	Schedule string
	TTL      time.Duration
	Grace    time.Duration
	Jitter   time.Duration
}

// RotationSettings tune the protocol (DESIGN.md, "write window W").
type RotationSettings struct {
	WriteWindow time.Duration
	ClockMargin time.Duration
}

// DaemonSettings tune the scheduler.
type DaemonSettings struct {
	Concurrency     int           // rotations at once (4)
	LeaseMargin     time.Duration // lease = write window + this (30s)
	SweepInterval   time.Duration // pending revokes are retried this often (1m)
	ShutdownTimeout time.Duration // SIGTERM waits this long for rotations in flight (write window + lease margin + 30s)
}

// AuditSettings tune the findings of `pat-rotator audit` (docs/audit.md).
// Zero fields take audit's defaults; a negative one (written "off") turns
// its check off.
type AuditSettings struct {
	MaxTTL      time.Duration // ttl-above-max (90 days)
	UnusedAfter time.Duration // unused (30 days)
	FailedRuns  int           // repeated-failures (3)
}

// Policy is the audit policy these settings describe.
func (a AuditSettings) Policy() audit.Policy {
	return audit.Policy{MaxTTL: a.MaxTTL, UnusedAfter: a.UnusedAfter, FailedRunsThreshold: a.FailedRuns}
}

// LeaseTTL bounds a rotation's hold on its use case: its writes end within
// the write window of the mint, and the margin covers the reads before it.
func (c *Config) LeaseTTL() time.Duration {
	return addDurations(c.Rotation.WriteWindow, c.Daemon.LeaseMargin)
}

// TargetConfig is one target with its settings resolved.
type TargetConfig struct {
	Name         string // Target.String(): "repo:octo/app GROO_PAT"
	Target       ghsecret.Target
	UseCase      string
	ScheduleSpec string
	Schedule     cron.Schedule
	MaxInterval  time.Duration // longest gap between two activations of Schedule
	TTL          time.Duration
	Grace        time.Duration
	Jitter       time.Duration
	Line         int // where it is written, for messages
}

// LogValue keeps log lines short and free of anything but names.
func (t *TargetConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("target", t.Name), slog.String("use_case", t.UseCase))
}

// LogValue lists where credentials come from, never what they are.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("file", c.File),
		slog.String("groo", safetext.RedactURL(c.Groo.APIURL)),
		slog.String("github", safetext.RedactURL(c.GitHub.APIURL)),
		slog.String("store", safetext.RedactURL(c.Store)),
		slog.Int("targets", len(c.Targets)),
	)
}

var (
	_ slog.LogValuer = (*Config)(nil)
	_ slog.LogValuer = (*TargetConfig)(nil)
)

// ConfigError is one problem in a configuration file, at a line.
type ConfigError struct {
	File string
	Line int
	Path string // "targets[2].schedule"
	Msg  string // what is wrong and how to fix it
}

func (e *ConfigError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
}

// LoadConfig reads and validates a configuration file. getenv (os.Getenv
// when nil) supplies GROO_ACCOUNTS_URL. Every problem found is returned at
// once, joined, each with file:line and the fix.
func LoadConfig(path string, getenv func(string) string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return ParseConfig(path, data, getenv)
}

// ParseConfig is LoadConfig on bytes; name is used in messages and to
// resolve relative *-file paths.
func ParseConfig(name string, data []byte, getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	p := &parser{file: name, now: time.Now()}
	cfg := p.parse(data)
	if cfg != nil {
		if u := strings.TrimSpace(getenv(GrooAccountsURLEnv)); u != "" {
			cfg.Groo.APIURL = strings.TrimRight(u, "/")
			if err := plainHTTP(u); err != nil {
				p.errs = append(p.errs, &ConfigError{File: name, Line: 1, Path: "groo.api-url",
					Msg: fmt.Sprintf("%s overrides it: %v", GrooAccountsURLEnv, err)})
			}
		}
	}
	if len(p.errs) > 0 {
		sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return cfg, nil
}

type parser struct {
	file string
	now  time.Time
	errs []*ConfigError
	// skip holds key nodes already reported as inline credentials, so
	// that the structured pass does not report them again as unknown.
	skip map[*yaml.Node]bool
	// flagged holds value nodes reported as credentials: one report each,
	// and no later message that would echo them.
	flagged map[*yaml.Node]bool
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
	p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Path: path, Msg: msg})
}

func (p *parser) parse(data []byte) *Config {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		p.yamlError(err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errs = append(p.errs, &ConfigError{File: p.file, Line: 1, Msg: "the configuration is empty; start from examples/rotator.yaml"})
		return nil
	}
	root := resolve(doc.Content[0])
	if root.Kind != yaml.MappingNode {
		p.errorf(root, "", "the configuration must be a mapping with groo, github and targets keys")
		return nil
	}
	p.skip = map[*yaml.Node]bool{}
	p.flagged = map[*yaml.Node]bool{}
	p.scanCredentials(root, "")

	cfg := &Config{
		File:  p.file,
		Groo:  GrooSettings{APIURL: DefaultGrooURL},
		Store: DefaultStore, Listen: DefaultListen,
		GitHub:   GitHubSettings{APIURL: DefaultGitHubURL, MutationInterval: DefaultMutationInterval},
		Defaults: Defaults{Schedule: DefaultSchedule, TTL: DefaultTTL, Grace: DefaultGrace, Jitter: DefaultJitter},
		Rotation: RotationSettings{WriteWindow: DefaultWriteWindow, ClockMargin: DefaultClockMargin},
		Daemon:   DaemonSettings{Concurrency: DefaultConcurrency, LeaseMargin: DefaultLeaseMargin, SweepInterval: DefaultSweepInterval},
	}
	var targets *yaml.Node
	var grooNode, githubNode, storeNode *yaml.Node
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
		"listen": func(k, v *yaml.Node, path string) {
			if s, ok := p.str(v, path); ok {
				cfg.Listen = s
			}
		},
		"defaults": func(k, v *yaml.Node, path string) { p.parseDefaults(v, path, &cfg.Defaults) },
		"rotation": func(k, v *yaml.Node, path string) { p.parseRotation(v, path, &cfg.Rotation) },
		"daemon":   func(k, v *yaml.Node, path string) { p.parseDaemon(v, path, &cfg.Daemon) },
		"audit":    func(k, v *yaml.Node, path string) { p.parseAudit(v, path, &cfg.Audit) },
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
	if !strings.HasPrefix(cfg.Store, "sqlite://") && !strings.HasPrefix(cfg.Store, "postgres://") && !strings.HasPrefix(cfg.Store, "postgresql://") {
		if storeNode == nil {
			storeNode = root
		}
		p.errorf(storeNode, "store", "%q is not a store DSN; use sqlite:///absolute/path.db or sqlite://./relative.db", safetext.RedactURL(cfg.Store))
	}
	if _, err := cron.ParseStandard(cfg.Defaults.Schedule); err != nil {
		p.errorf(root, "defaults.schedule", "cron cannot parse %q (%v); use 5 fields (minute hour day-of-month month day-of-week) or a descriptor such as @daily or @every 12h", cfg.Defaults.Schedule, err)
	}
	if dir := filepath.Dir(p.file); dir != "" {
		cfg.Groo.TokenFile = relTo(dir, cfg.Groo.TokenFile)
		cfg.GitHub.TokenFile = relTo(dir, cfg.GitHub.TokenFile)
		if cfg.GitHub.App != nil {
			cfg.GitHub.App.PrivateKeyFile = relTo(dir, cfg.GitHub.App.PrivateKeyFile)
		}
	}
	if cfg.Daemon.ShutdownTimeout == 0 {
		cfg.Daemon.ShutdownTimeout = addDurations(cfg.Rotation.WriteWindow, cfg.Daemon.LeaseMargin, 30*time.Second)
	}

	if targets == nil {
		p.errorf(root, "targets", "missing; add at least one target, e.g. targets: [{repository: octo/app}]")
		return cfg
	}
	p.parseTargets(targets, cfg)
	return cfg
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
		p.errs = append(p.errs, &ConfigError{File: p.file, Line: line, Msg: "not valid YAML: " + safetext.Line(redactCredentials(m))})
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

// duration accepts Go durations (90m, 72h, 1h30m) and whole days (7d).
func (p *parser) duration(v *yaml.Node, path string) (time.Duration, bool) {
	s, ok := p.str(v, path)
	if !ok {
		return 0, false
	}
	d, err := parseDuration(s)
	if errors.Is(err, ErrDurationTooLong) {
		p.errorf(v, path, "%q is too long: durations stop at about 106751d (292 years); write a shorter one, e.g. 90d", s)
		return 0, false
	}
	if err != nil {
		p.errorf(v, path, "%q is not a duration; write e.g. 90m, 72h or 7d", s)
		return 0, false
	}
	if d < 0 {
		p.errorf(v, path, "%q is negative; durations here are 0 or more", s)
		return 0, false
	}
	return d, true
}

// ParseDuration reads a Go duration (90m, 72h) or whole days (7d). One
// longer than a time.Duration holds is ErrDurationTooLong, never wrapped.
func ParseDuration(s string) (time.Duration, error) { return parseDuration(s) }

// ErrDurationTooLong is a duration beyond what time.Duration holds
// (about 292 years).
var ErrDurationTooLong = errors.New("duration too long")

const maxDuration = time.Duration(math.MaxInt64)

// goDuration is time.ParseDuration's syntax: a failed parse of a string of
// this shape is an overflow.
var goDuration = regexp.MustCompile(`^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)

func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%w: %q", ErrDurationTooLong, s)
		}
		if err != nil {
			return 0, err
		}
		const day = int64(24 * time.Hour)
		if n > math.MaxInt64/day || n < math.MinInt64/day {
			return 0, fmt.Errorf("%w: %q", ErrDurationTooLong, s)
		}
		return time.Duration(n * day), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil && goDuration.MatchString(s) {
		return 0, fmt.Errorf("%w: %q", ErrDurationTooLong, s)
	}
	return d, err
}

// addDurations sums durations of the configuration, stopping at the
// largest one instead of wrapping to a negative.
func addDurations(ds ...time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		if d > 0 && sum > maxDuration-d {
			return maxDuration
		}
		sum += d
	}
	return sum
}

func (p *parser) url(v *yaml.Node, path string) (string, bool) {
	s, ok := p.nonEmpty(v, path)
	if !ok {
		return "", false
	}
	if !strings.HasPrefix(s, "https://") && !strings.HasPrefix(s, "http://") {
		p.errorf(v, path, "%q is not an http(s) URL; write e.g. https://api.github.com", safetext.RedactURL(s))
		return "", false
	}
	if u, err := url.Parse(s); err != nil || u.User != nil {
		// Never echo it: the user info may be a password or a token.
		p.errorf(v, path, "%q holds user info or does not parse; credentials never go in a URL: write the API's root without user@ "+
			"(e.g. %s) and name the credential with token-env or token-file", safetext.RedactURL(s), DefaultGrooURL)
		return "", false
	}
	if err := plainHTTP(s); err != nil {
		p.errorf(v, path, "%v", err)
		return "", false
	}
	return strings.TrimRight(s, "/"), true
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
		"schedule":     assign(&d.Schedule, p.nonEmpty),
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
type targetFields struct {
	repository, environment, organization, secret, visibility, tokenName, schedule string
	dependabot                                                                     bool
	selected                                                                       []string
	selectedSet                                                                    bool
	ttl, grace, jitter                                                             *time.Duration
	nodes                                                                          map[string]*yaml.Node
}

func (p *parser) parseTargets(n *yaml.Node, cfg *Config) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "targets", "want a list of targets, got %s", kindName(n))
		return
	}
	if len(n.Content) == 0 {
		p.errorf(n, "targets", "empty; add at least one target, e.g. - repository: octo/app")
	}
	// GitHub compares owners, repositories, environments and secret names
	// without regard to case, so both are keyed folded; each target keeps
	// the spelling it was written with (its use case is named with it).
	useCases := map[string]*TargetConfig{}
	secrets := map[string]*TargetConfig{}
	sched := newScheduleCache(p.now)
	for i, item := range n.Content {
		path := fmt.Sprintf("targets[%d]", i)
		t := p.parseTarget(resolve(item), path, cfg.Defaults, sched)
		if t == nil {
			continue
		}
		useCaseKey := strings.ToLower(t.UseCase)
		if prev := useCases[useCaseKey]; prev != nil {
			how := ""
			if prev.UseCase != t.UseCase {
				how = fmt.Sprintf(" (as %q: names that differ only in case are one)", prev.UseCase)
			}
			p.errorf(item, path, "use case %q is already the use case of %s (line %d)%s; two targets never share one: remove one, or give one a distinct token-name",
				t.UseCase, prev.Name, prev.Line, how)
			continue
		}
		secretKey := t.Target.FoldedKey()
		if prev := secrets[secretKey]; prev != nil {
			p.errorf(item, path, "%s is already written by the target at line %d as %s (GitHub compares owners, repositories, environments and secret names without regard to case); remove one",
				t.Name, prev.Line, prev.Name)
			continue
		}
		useCases[useCaseKey] = t
		secrets[secretKey] = t
		cfg.Targets = append(cfg.Targets, t)
	}
}

func (p *parser) parseTarget(n *yaml.Node, path string, def Defaults, sched *scheduleCache) *TargetConfig {
	f := targetFields{nodes: map[string]*yaml.Node{}}
	before := len(p.errs)
	setStr := func(dst *string, nonEmpty bool) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			f.nodes[k.Value] = v
			if nonEmpty {
				*dst, _ = p.nonEmpty(v, path)
			} else {
				*dst, _ = p.str(v, path)
			}
		}
	}
	setDur := func(dst **time.Duration) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			f.nodes[k.Value] = v
			if d, ok := p.duration(v, path); ok {
				*dst = &d
			}
		}
	}
	p.mapping(n, path, map[string]func(k, v *yaml.Node, path string){
		"repository":   setStr(&f.repository, true),
		"environment":  setStr(&f.environment, false), // untrimmed: ValidateEnvironment refuses spaces at its ends
		"organization": setStr(&f.organization, true),
		"secret":       setStr(&f.secret, false),
		"visibility":   setStr(&f.visibility, true),
		"token-name":   setStr(&f.tokenName, true),
		"schedule":     setStr(&f.schedule, true),
		"ttl":          setDur(&f.ttl),
		"revoke-grace": setDur(&f.grace),
		"jitter":       setDur(&f.jitter),
		"dependabot": func(k, v *yaml.Node, path string) {
			f.nodes[k.Value] = v
			f.dependabot, _ = p.boolean(v, path)
		},
		"selected-repositories": func(k, v *yaml.Node, path string) {
			f.nodes[k.Value] = v
			if v.Kind != yaml.SequenceNode {
				p.errorf(v, path, "want a list of repository names, e.g. [app, docs]")
				return
			}
			f.selectedSet = true
			f.selected = []string{}
			for j, r := range v.Content {
				if s, ok := p.nonEmpty(resolve(r), fmt.Sprintf("%s[%d]", path, j)); ok {
					if strings.Contains(s, "/") {
						p.errorf(r, fmt.Sprintf("%s[%d]", path, j), "%q: write the repository's name within the organization (e.g. app), not owner/name", s)
						continue
					}
					f.selected = append(f.selected, s)
				}
			}
		},
	})
	if len(p.errs) > before || n.Kind != yaml.MappingNode {
		return nil
	}

	at := func(key string) *yaml.Node {
		if v := f.nodes[key]; v != nil {
			return v
		}
		return n
	}
	t := ghsecret.Target{Name: f.secret, Visibility: f.visibility}
	if _, ok := f.nodes["secret"]; !ok {
		t.Name = ghsecret.DefaultSecretName
	}
	if f.selectedSet {
		t.SelectedRepositories = f.selected
	}
	switch {
	case f.repository != "" && f.organization != "":
		p.errorf(n, path, "both repository and organization; a target is one or the other, split it in two")
		return nil
	case f.repository != "":
		owner, repo, ok := strings.Cut(f.repository, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			p.errorf(at("repository"), path+".repository", "%q: write owner/name, e.g. octo/app", f.repository)
			return nil
		}
		if err := errors.Join(ghsecret.ValidateOwner("owner", owner), ghsecret.ValidateRepo(repo)); err != nil {
			p.errorf(at("repository"), path+".repository", "%q: %v", f.repository, strings.ReplaceAll(err.Error(), "\n", "; "))
			return nil
		}
		t.Owner, t.Repo = owner, repo
		if _, set := f.nodes["environment"]; set {
			if err := ghsecret.ValidateEnvironment(f.environment); err != nil {
				p.errorf(at("environment"), path+".environment", "%v", err)
				return nil
			}
		}
		switch {
		case f.environment != "" && f.dependabot:
			p.errorf(at("dependabot"), path, "Dependabot secrets have no environment scope; remove environment or dependabot")
			return nil
		case f.environment != "":
			t.Scope, t.Environment = ghsecret.ScopeEnvironment, f.environment
		case f.dependabot:
			t.Scope = ghsecret.ScopeDependabot
		default:
			t.Scope = ghsecret.ScopeRepository
		}
	case f.organization != "":
		if f.environment != "" {
			p.errorf(at("environment"), path, "environments belong to repositories; use repository: OWNER/NAME with environment, or drop environment")
			return nil
		}
		if err := ghsecret.ValidateOwner("organization", f.organization); err != nil {
			p.errorf(at("organization"), path+".organization", "%v", err)
			return nil
		}
		t.Org = f.organization
		t.Scope = ghsecret.ScopeOrganization
		if f.dependabot {
			t.Scope = ghsecret.ScopeDependabotOrganization
		}
	default:
		p.errorf(n, path, "no scope; add repository: OWNER/NAME or organization: ORG")
		return nil
	}
	if f.selectedSet && t.Visibility == "" {
		t.Visibility = "selected"
	}
	if err := t.Validate(); err != nil {
		node := n
		switch {
		case errors.Is(err, ghsecret.ErrInvalidSecretName):
			node = at("secret")
			path += ".secret"
		case t.Visibility != "":
			node = at("visibility")
		}
		p.errorf(node, path, "%v", err)
		return nil
	}

	tc := &TargetConfig{
		Name: t.String(), Target: t, UseCase: t.UseCase(),
		ScheduleSpec: def.Schedule, TTL: def.TTL, Grace: def.Grace, Jitter: def.Jitter,
		Line: n.Line,
	}
	if f.tokenName != "" {
		if len(f.tokenName) > 100 {
			p.errorf(at("token-name"), path+".token-name", "longer than the 100 characters Groo accepts for a token name")
			return nil
		}
		tc.UseCase = f.tokenName
	}
	if f.schedule != "" {
		tc.ScheduleSpec = f.schedule
	}
	if f.ttl != nil {
		tc.TTL = *f.ttl
	}
	if f.grace != nil {
		tc.Grace = *f.grace
	}
	if f.jitter != nil {
		tc.Jitter = *f.jitter
	}
	s, maxGap, err := sched.get(tc.ScheduleSpec)
	if err != nil {
		node, p2 := at("schedule"), path+".schedule"
		if f.schedule == "" {
			p2 = path + " (schedule from defaults)"
		}
		p.errorf(node, p2, "%v", err)
		return nil
	}
	tc.Schedule, tc.MaxInterval = s, maxGap
	if tc.TTL == 0 {
		p.errorf(at("ttl"), path+".ttl", "0; a token needs a lifetime, e.g. ttl: 72h")
		return nil
	}
	if need := addDurations(maxGap, tc.Grace, tc.Jitter); tc.TTL <= need {
		p.errorf(at("ttl"), path+".ttl",
			"%s does not outlast the schedule's longest interval (%s, %q) + revoke-grace (%s) + jitter (%s) = %s: the token would expire before its successor; raise ttl above %s or run the schedule more often",
			fmtDur(tc.TTL), fmtDur(maxGap), tc.ScheduleSpec, fmtDur(tc.Grace), fmtDur(tc.Jitter), fmtDur(need), fmtDur(need))
		return nil
	}
	return tc
}

// fmtDur prints whole days as such: 72h -> 3d, 36h -> 1d12h.
func fmtDur(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day {
		days := d / day
		rest := d % day
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%s", days, rest)
	}
	return d.String()
}

// scheduleCache parses each distinct schedule once: a fleet of thousands of
// targets usually shares a handful of schedules, and finding the longest
// interval walks weeks of activations.
type scheduleCache struct {
	mu   sync.Mutex
	now  time.Time
	memo map[string]scheduleEntry
}

type scheduleEntry struct {
	s   cron.Schedule
	gap time.Duration
	err error
}

func newScheduleCache(now time.Time) *scheduleCache {
	return &scheduleCache{now: now, memo: map[string]scheduleEntry{}}
}

func (c *scheduleCache) get(spec string) (cron.Schedule, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.memo[spec]; ok {
		return e.s, e.gap, e.err
	}
	var e scheduleEntry
	e.s, e.err = cron.ParseStandard(spec)
	if e.err != nil {
		e.err = fmt.Errorf("cron cannot parse %q (%v); use 5 fields (minute hour day-of-month month day-of-week, e.g. \"0 3 * * *\") or a descriptor such as @daily, @hourly or @every 12h", spec, e.err)
	} else {
		e.gap, e.err = MaxInterval(e.s, c.now)
		if e.err != nil {
			e.err = fmt.Errorf("schedule %q: %w", spec, e.err)
		}
	}
	c.memo[spec] = e
	return e.s, e.gap, e.err
}

// MaxInterval is the longest gap between two consecutive activations of s,
// walking at least eight days (weekday-only schedules skip weekends) and at
// least two activations (monthly and yearly ones), from from.
func MaxInterval(s cron.Schedule, from time.Time) (time.Duration, error) {
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return c.Delay, nil
	}
	prev := s.Next(from)
	if prev.IsZero() {
		return 0, errors.New("it never fires (cron finds no activation in the next five years); check the day and month fields")
	}
	const minSpan = 8 * 24 * time.Hour
	limit := from.AddDate(3, 0, 0)
	var gap time.Duration
	for n := 0; ; n++ {
		next := s.Next(prev)
		if next.IsZero() || next.After(limit) {
			if n == 0 {
				return 0, errors.New("it fires at most once in three years; rotate at least once a year")
			}
			return gap, nil
		}
		if d := next.Sub(prev); d > gap {
			gap = d
		}
		prev = next
		if n >= 1 && next.Sub(from) >= minSpan {
			return gap, nil
		}
	}
}

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
