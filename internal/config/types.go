// Package config is pat-rotator's configuration: the types a YAML file
// fills in and their defaults (types.go); the reading of the file, a walk of
// yaml.v3's node tree that keeps every value's file:line for the messages
// (yaml.go); the targets built from it, with their duplicates (targets.go);
// the schedules and the TTL each one needs (schedule.go); and the refusal of
// credentials written inline (inline.go). Parse reports every problem of a
// file at once, each at its line with the fix, and never echoes a
// credential. Durations are written in internal/duration's grammar; Groo's
// URL is resolved by groo.ResolveBaseURL, as the Action does.
package config

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/groo/pat-action/internal/audit"
	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/safetext"
)

// Defaults that apply when the configuration leaves a setting out. Groo's
// URL has its default and its precedence in groo.ResolveBaseURL.
const (
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
	DefaultRetryMin         = time.Minute
	DefaultRetryMax         = time.Hour
)

// Config is a parsed and validated pat-rotator configuration. It holds the
// names of the places credentials live, never a credential.
type Config struct {
	File   string
	Groo   GrooSettings
	GitHub GitHubSettings
	Store  string // DSN: sqlite:///abs.db, sqlite://./rel.db, postgres://USER@HOST/DB, or libpq key=value
	// StorePasswordFile is where a PostgreSQL store's password is
	// (store-password-file; resolved against the file's directory).
	StorePasswordFile string
	Listen            string // host:port of /healthz, /readyz, /metrics
	Defaults          Defaults
	Rotation          RotationSettings
	Daemon            DaemonSettings
	Audit             AuditSettings
	Status            StatusSettings
	Notify            NotifySettings
	Targets           []*TargetConfig
}

// StatusSettings protect the status page and the history routes with a
// bearer token, when one is named (an environment variable or a file).
type StatusSettings struct {
	TokenEnv  string
	TokenFile string
}

// NotifySettings say who hears about a condition that threatens a secret
// (L3): webhooks, whose URLs are credentials (only named, never inline),
// and the thresholds (zero: internal/notify's defaults).
type NotifySettings struct {
	Webhooks      []WebhookRef
	FailedRuns    int
	ExpiryWarning time.Duration
	StuckRevoke   time.Duration
}

// WebhookRef names where a webhook's URL is, and its body's format.
type WebhookRef struct {
	URLEnv  string
	URLFile string
	Format  string // json (default) or slack
}

// GrooSettings says where Groo is and where the bot's own PAT comes from.
type GrooSettings struct {
	// APIURL is the URL in use, resolved by groo.ResolveBaseURL: groo.api-url,
	// else GROO_ACCOUNTS_URL, else groo.DefaultBaseURL; APIURLFrom says which.
	APIURL     string
	APIURLFrom string
	TokenEnv   string
	TokenFile  string // absolute, or relative to the configuration file
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
	RetryMin        time.Duration // a failed or skipped rotation is tried again after this (1m), doubling
	RetryMax        time.Duration // up to this (1h), until it succeeds or the next scheduled run comes
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
	return duration.Sum(c.Rotation.WriteWindow, c.Daemon.LeaseMargin)
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

// Error is one problem in a configuration file, at a line.
type Error struct {
	File string
	Line int
	Path string // "targets[2].schedule"
	Msg  string // what is wrong and how to fix it
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Path, e.Msg)
}
