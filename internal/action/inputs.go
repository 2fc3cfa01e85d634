package action

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/groo/pat-action/internal/duration"
	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
	"github.com/groo/pat-action/internal/safetext"
)

// Mode is what a run does.
type Mode string

const (
	ModeRotate Mode = "rotate" // mint, verify, write, retire
	ModePlan   Mode = "plan"   // print the steps, change nothing
	ModeAudit  Mode = "audit"  // list the use case's tokens, flag what breaks the rules
)

// Defaults the binary applies itself when an input is empty, so that it
// behaves the same when no runner filled in action.yml's defaults.
const (
	DefaultGrooURL   = groo.DefaultBaseURL // groo.ResolveBaseURL applies it
	DefaultGitHubURL = "https://api.github.com"
	DefaultTTL       = 168 * time.Hour
	// MinTTL keeps a token from expiring before the rotation that minted it
	// can write it (the write window is 2 minutes) and before anyone can use it.
	MinTTL = 10 * time.Minute
)

// Input names, as in action.yml.
const (
	inGrooToken    = "groo-token"
	inGitHubToken  = "github-token"
	inAppID        = "app-id"
	inAppKey       = "app-private-key"
	inRepository   = "repository"
	inSecretName   = "secret-name"
	inScope        = "scope"
	inEnvironment  = "environment"
	inOrganization = "organization"
	inVisibility   = "visibility"
	inSelected     = "selected-repositories"
	inTokenName    = "token-name"
	inExpiresIn    = "expires-in"
	inRevokeGrace  = "revoke-grace"
	inMode         = "mode"
	inExportEnv    = "export-env"
	inGrooAPIURL   = "groo-api-url"
	inGitHubAPIURL = "github-api-url"
)

// InputError is a bad input, found before any request. Its message names the
// input and the fix; it never echoes a secret input's value.
type InputError struct {
	Input string
	Msg   string
}

func (e *InputError) Error() string { return "input " + e.Input + ": " + e.Msg }

// credential is a secret input other than the Groo PAT (which has its own
// type). It redacts itself in every printed form.
type credential string

func (c credential) String() string               { return c.redacted() }
func (c credential) GoString() string             { return c.redacted() }
func (c credential) LogValue() slog.Value         { return slog.StringValue(c.redacted()) }
func (c credential) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(c.redacted())) }
func (c credential) MarshalText() ([]byte, error) { return []byte(c.redacted()), nil }
func (c credential) reveal() string               { return string(c) }
func (c credential) redacted() string {
	if c == "" {
		return "<none>"
	}
	return "<redacted>"
}

var (
	_ fmt.Formatter  = credential("")
	_ slog.LogValuer = credential("")
)

// Inputs is a validated run configuration.
type Inputs struct {
	Mode        Mode
	GrooToken   groo.Token
	GitHubToken credential
	AppID       int64
	AppKey      *rsa.PrivateKey
	Repository  string // owner/name; may be empty for organization scopes
	Target      ghsecret.Target
	UseCase     string
	TTL         time.Duration
	Grace       time.Duration
	ExportEnv   bool
	GrooURL     string // no trailing slash
	GitHubURL   string // no trailing slash
}

// LogValue lists what is safe to log: no credential.
func (in *Inputs) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", string(in.Mode)),
		slog.String("target", in.Target.String()),
		slog.String("use_case", in.UseCase),
		slog.Duration("ttl", in.TTL),
		slog.Duration("grace", in.Grace),
		slog.String("groo_api_url", in.GrooURL),
		slog.String("github_api_url", in.GitHubURL),
		slog.Bool("github_app", in.AppID != 0),
	)
}

var _ slog.LogValuer = (*Inputs)(nil)

// usesApp reports whether the GitHub credential is an App installation.
func (in *Inputs) usesApp() bool { return in.AppID != 0 }

// allInputs are every input of action.yml.
var allInputs = []string{inGrooToken, inGitHubToken, inAppID, inAppKey, inRepository, inSecretName, inScope, inEnvironment,
	inOrganization, inVisibility, inSelected, inTokenName, inExpiresIn, inRevokeGrace, inMode, inExportEnv, inGrooAPIURL, inGitHubAPIURL}

// multiLineInputs may hold line breaks (and tabs): a PEM key, and a
// newline-separated list of repositories. No other control character.
var multiLineInputs = map[string]bool{inAppKey: true, inSelected: true}

// envInputs are the runner variables read, and the input each stands in for.
var envInputs = map[string]string{"GITHUB_REPOSITORY": inRepository, groo.EnvBaseURL: inGrooAPIURL, "GITHUB_API_URL": inGitHubAPIURL}

// checkInputText refuses a line break (unless multiLine), a control or bidi
// character, or invalid UTF-8; the error names the character and where it
// is, never the value.
func checkInputText(v string, multiLine bool) error {
	if multiLine {
		v = strings.NewReplacer("\n", " ", "\r", " ", "\t", " ").Replace(v)
	}
	return safetext.CheckLine(v)
}

// secretInputs are masked before anything else happens: the runner masks
// values that come from secrets, but inputs may come from anywhere.
var secretInputs = []string{inGrooToken, inGitHubToken, inAppKey}

// ParseInputs reads and validates every input. input returns an input's
// value (githubactions.Action.GetInput); env returns a runner variable. The
// error joins one *InputError per bad input, so a run reports them all at once.
func ParseInputs(input, env func(string) string) (*Inputs, error) {
	var errs []error
	// First, every input and runner variable with a line break or a control
	// character is refused, naming it without its value; the checks below
	// then see it as empty, and report nothing more about it.
	refused := map[string]bool{}
	for _, name := range allInputs {
		if err := checkInputText(input(name), multiLineInputs[name]); err != nil {
			refused[name] = true
			errs = append(errs, &InputError{Input: name, Msg: fmt.Sprintf("has %v; inputs are single-line text: remove it "+
				"(in the workflow, a | or > block or a quoted \"\\n\" adds one; a secret or variable may end with a stray newline: save it again without)", err)})
		}
	}
	for v, name := range envInputs {
		if err := checkInputText(env(v), false); err != nil && !refused[name] {
			refused[name] = true
			errs = append(errs, &InputError{Input: name, Msg: fmt.Sprintf("the runner variable %s has %v; set it to single-line text, or set %s", v, err, name)})
		}
	}
	rawInput, rawEnv := input, env
	input = func(name string) string {
		if refused[name] {
			return ""
		}
		return rawInput(name)
	}
	env = func(v string) string {
		if refused[envInputs[v]] {
			return ""
		}
		return rawEnv(v)
	}
	bad := func(name, format string, args ...any) {
		if refused[name] {
			return
		}
		errs = append(errs, &InputError{Input: name, Msg: fmt.Sprintf(format, args...)})
	}
	in := &Inputs{}

	// mode first: it decides which credentials are needed.
	switch m := Mode(strings.ToLower(input(inMode))); m {
	case "":
		in.Mode = ModeRotate
	case ModeRotate, ModePlan, ModeAudit:
		in.Mode = m
	default:
		bad(inMode, "%q is not a mode; use rotate, plan or audit", input(inMode))
	}

	if v := input(inGrooToken); v == "" {
		bad(inGrooToken, "required; pass the Groo PAT that mints the new one, e.g. groo-token: ${{ secrets.GROO_PAT }}")
	} else if tok, err := groo.ParseToken(v); err != nil {
		// err never contains the value.
		bad(inGrooToken, "not a Groo PAT (%v); pass a live PAT from https://accounts.groo.dev, e.g. ${{ secrets.GROO_PAT }}", err)
	} else {
		in.GrooToken = tok
	}

	parseGitHubCredential(in, input, bad)

	scope := ghsecret.Scope(strings.ToLower(input(inScope)))
	if scope == "" {
		scope = ghsecret.ScopeRepository
	}
	scopeOK := false
	for _, s := range ghsecret.Scopes {
		scopeOK = scopeOK || s == scope
	}
	if !scopeOK {
		bad(inScope, "%q is not a scope; use repository, environment, organization, dependabot or dependabot-organization", input(inScope))
	}
	orgScope := scope == ghsecret.ScopeOrganization || scope == ghsecret.ScopeDependabotOrganization
	in.Target.Scope = scope

	repo := input(inRepository)
	repoFrom := inRepository
	if repo == "" {
		repo, repoFrom = env("GITHUB_REPOSITORY"), "GITHUB_REPOSITORY"
	}
	owner, name, repoErr := splitRepository(repo)
	switch {
	case repo == "" && !orgScope:
		bad(inRepository, "empty and GITHUB_REPOSITORY is not set; use owner/name, e.g. repository: octo/app")
	case repo != "" && repoErr != nil:
		if repoFrom == inRepository {
			bad(inRepository, "%q %v; use owner/name, e.g. octo/app", repo, repoErr)
		} else {
			bad(inRepository, "empty, and GITHUB_REPOSITORY=%q %v; set repository: owner/name", repo, repoErr)
		}
	case repo != "":
		in.Repository = owner + "/" + name
		if !orgScope {
			in.Target.Owner, in.Target.Repo = owner, name
		}
	}

	secretName := input(inSecretName)
	if secretName == "" {
		secretName = ghsecret.DefaultSecretName
	}
	if err := ghsecret.ValidateSecretName(secretName); err != nil {
		bad(inSecretName, "%v", err)
	}
	in.Target.Name = secretName

	envName := input(inEnvironment)
	switch {
	case scope == ghsecret.ScopeEnvironment && envName == "":
		bad(inEnvironment, "required with scope: environment; name the environment, e.g. environment: prod")
	case scope != ghsecret.ScopeEnvironment && envName != "" && scopeOK:
		bad(inEnvironment, "only used with scope: environment (scope is %s); remove it or set scope: environment", scope)
	case envName != "" && ghsecret.ValidateEnvironment(envName) != nil:
		bad(inEnvironment, "%v", ghsecret.ValidateEnvironment(envName))
	default:
		in.Target.Environment = envName
	}

	org := input(inOrganization)
	switch {
	case org != "" && !orgScope && scopeOK:
		bad(inOrganization, "only used with scope: organization or dependabot-organization (scope is %s); remove it or change scope", scope)
	case orgScope && org == "" && owner == "":
		bad(inOrganization, "required with scope: %s when repository and GITHUB_REPOSITORY are empty; e.g. organization: octo", scope)
	case orgScope:
		if org == "" {
			org = owner
		}
		if err := ghsecret.ValidateOwner("organization", org); err != nil {
			bad(inOrganization, "%v", err)
		} else {
			in.Target.Org = org
		}
	}

	vis := strings.ToLower(input(inVisibility))
	switch {
	case vis == "":
	case vis != "all" && vis != "private" && vis != "selected":
		bad(inVisibility, "%q is not a visibility; use all, private or selected", input(inVisibility))
	case !orgScope && scopeOK:
		bad(inVisibility, "only used with organization scopes (scope is %s); remove it", scope)
	default:
		in.Target.Visibility = vis
	}

	if sel := input(inSelected); sel == "" && in.Target.Visibility == "selected" {
		// GitHub drops every repository from a "selected" secret written without ids.
		bad(inSelected, "required with visibility: selected; list the repositories that may read the secret, e.g. app,api "+
			"(or leave visibility empty to keep the secret's current visibility and repositories)")
	} else if sel != "" {
		switch {
		case !orgScope && scopeOK:
			bad(inSelected, "only used with organization scopes (scope is %s); remove it", scope)
		case vis != "selected":
			bad(inSelected, "only used with visibility: selected; set visibility: selected or remove it")
		default:
			names, err := splitSelected(sel, in.Target.Org)
			if err != nil {
				bad(inSelected, "%v; list repository names of the organization, comma- or newline-separated, e.g. app,api", err)
			} else {
				in.Target.SelectedRepositories = names
			}
		}
	}

	in.UseCase = input(inTokenName)
	switch {
	case in.UseCase == "":
		in.UseCase = in.Target.UseCase()
		if utf8.RuneCountInString(in.UseCase) > groo.MaxNameLen {
			bad(inTokenName, "the default name %q is longer than Groo's %d characters; set a shorter token-name", in.UseCase, groo.MaxNameLen)
		}
	case utf8.RuneCountInString(in.UseCase) > groo.MaxNameLen:
		bad(inTokenName, "%d characters is more than Groo's %d; use a shorter name", utf8.RuneCountInString(in.UseCase), groo.MaxNameLen)
	case strings.ContainsAny(in.UseCase, "\r\n"):
		bad(inTokenName, "has a line break; use a single line")
	}

	in.TTL = DefaultTTL
	if v := input(inExpiresIn); v != "" {
		d, err := duration.Parse(v)
		switch {
		case errors.Is(err, duration.ErrTooLong):
			bad(inExpiresIn, "%q is too long: durations stop at about 106751d (292 years); use e.g. 168h or 7d", v)
		case err != nil:
			bad(inExpiresIn, "%v", err)
		case d < MinTTL:
			bad(inExpiresIn, "%s is too short; use at least %s (the token must outlive its own rotation), e.g. 168h or 7d", v, duration.Format(MinTTL))
		default:
			in.TTL = d
		}
	}

	if v := input(inRevokeGrace); v != "" {
		d, err := duration.Parse(v)
		switch {
		case errors.Is(err, duration.ErrTooLong):
			bad(inRevokeGrace, "%q is too long: durations stop at about 106751d (292 years); use e.g. 0s, 15m or 1d", v)
		case err != nil:
			bad(inRevokeGrace, "%v; 0s revokes at once", err)
		case d >= in.TTL:
			bad(inRevokeGrace, "%s is not shorter than expires-in (%s); a replaced token would outlive its successor, use a shorter grace", v, duration.Format(in.TTL))
		default:
			in.Grace = d
		}
	}

	switch v := strings.ToLower(input(inExportEnv)); v {
	case "", "false":
	case "true":
		in.ExportEnv = true
		if env("GITHUB_ENV") == "" {
			bad(inExportEnv, "true, but GITHUB_ENV is not set, so there is nowhere to export the token; run under a GitHub runner or set export-env: false")
		}
	default:
		bad(inExportEnv, "%q is not a boolean; use true or false", input(inExportEnv))
	}

	// One precedence in both programs: groo-api-url, else GROO_ACCOUNTS_URL,
	// else the default (action.yml gives the input no default, so an
	// explicit URL is always the caller's).
	grooURL, grooFrom := groo.ResolveBaseURL(input(inGrooAPIURL), env)
	switch grooFrom {
	case groo.FromExplicit:
		grooFrom = inGrooAPIURL
	case groo.FromDefault:
		grooFrom = "the default"
	}
	if u, err := parseBaseURL(grooURL); errors.Is(err, errPlainHTTP) {
		bad(inGrooAPIURL, "%s %q %v", sourceNote(grooFrom), safetext.RedactURL(grooURL), err)
	} else if err != nil {
		bad(inGrooAPIURL, "%s %q %v; use e.g. %s", sourceNote(grooFrom), safetext.RedactURL(grooURL), err, DefaultGrooURL)
	} else {
		in.GrooURL = u
	}

	ghURL, ghFrom := input(inGitHubAPIURL), inGitHubAPIURL
	if ghURL == "" {
		ghURL, ghFrom = env("GITHUB_API_URL"), "GITHUB_API_URL"
	}
	if ghURL == "" {
		ghURL = DefaultGitHubURL
	}
	if u, err := parseBaseURL(ghURL); errors.Is(err, errPlainHTTP) {
		bad(inGitHubAPIURL, "%s %q %v", sourceNote(ghFrom), safetext.RedactURL(ghURL), err)
	} else if err != nil {
		bad(inGitHubAPIURL, "%s %q %v; use e.g. %s or https://HOST/api/v3 for GitHub Enterprise Server", sourceNote(ghFrom), safetext.RedactURL(ghURL), err, DefaultGitHubURL)
	} else {
		in.GitHubURL = u
	}

	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Backstop: the target's own rules, which the checks above should cover.
	if err := in.Target.Validate(); err != nil {
		return nil, &InputError{Input: inScope, Msg: err.Error()}
	}
	return in, nil
}

// parseGitHubCredential checks that exactly one GitHub credential is given
// (none is fine for audit, which only reads Groo).
func parseGitHubCredential(in *Inputs, input func(string) string, bad func(string, string, ...any)) {
	tok, appID, key := input(inGitHubToken), input(inAppID), input(inAppKey)
	switch {
	case tok != "" && (appID != "" || key != ""):
		bad(inGitHubToken, "given together with app-id/app-private-key; use either github-token or a GitHub App, not both")
		return
	case tok != "":
		if strings.ContainsAny(tok, " \t\r\n") {
			bad(inGitHubToken, "contains whitespace; pass the token alone, e.g. ${{ secrets.SECRETS_WRITER_TOKEN }}")
			return
		}
		in.GitHubToken = credential(tok)
		safetext.AddSecret(tok) // redacted wherever GitHub or a log echoes it
		return
	case appID == "" && key == "":
		if in.Mode != ModeAudit {
			bad(inGitHubToken, "no credential can write the secret; pass github-token (a fine-grained PAT with \"Secrets: write\") "+
				"or app-id and app-private-key (a GitHub App with the secrets permission). GITHUB_TOKEN cannot write secrets")
		}
		return
	}
	if appID == "" {
		bad(inAppID, "required with app-private-key; pass the App's numeric ID, e.g. app-id: ${{ vars.APP_ID }}")
	} else if id, err := strconv.ParseInt(appID, 10, 64); err != nil || id <= 0 {
		bad(inAppID, "%q is not a GitHub App ID; use the App's numeric ID from its settings page", appID)
	} else {
		in.AppID = id
	}
	if key == "" {
		bad(inAppKey, "required with app-id; pass the App's PEM private key, e.g. app-private-key: ${{ secrets.APP_PRIVATE_KEY }}")
		return
	}
	k, err := parseRSAKey(key)
	if err != nil {
		bad(inAppKey, "%v; pass the whole PEM file GitHub generated (-----BEGIN RSA PRIVATE KEY----- ...)", err)
		return
	}
	in.AppKey = k
}

// parseRSAKey reads a PKCS#1 or PKCS#8 PEM RSA key. Keys pasted into a
// single-line variable often arrive with literal \n: accept those too.
// Errors never include key material.
func parseRSAKey(s string) (*rsa.PrivateKey, error) {
	if !strings.Contains(s, "\n") && strings.Contains(s, `\n`) {
		s = strings.ReplaceAll(s, `\n`, "\n")
	}
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("PEM block %q is neither a PKCS#1 nor a PKCS#8 private key", block.Type)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the key is %T, GitHub Apps use RSA keys", k)
	}
	return rk, nil
}

// masksFor returns the values to mask for a secret input. A multi-line value
// (a PEM key) is masked line by line, as the runner does for secrets, because
// a log line never holds the whole value.
func masksFor(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if !strings.ContainsAny(v, "\r\n") {
		return []string{v}
	}
	var out []string
	for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
		l = strings.TrimSpace(l)
		if len(l) >= 8 && !strings.HasPrefix(l, "-----") { // armour lines are not secret
			out = append(out, l)
		}
	}
	return out
}

func splitRepository(s string) (owner, name string, err error) {
	owner, name, ok := strings.Cut(s, "/")
	if !ok || strings.Contains(name, "/") {
		return "", "", errors.New("is not owner/name")
	}
	if err := ghsecret.ValidateOwner("owner", owner); err != nil {
		return "", "", fmt.Errorf("has an invalid owner (%w)", err)
	}
	if err := ghsecret.ValidateRepo(name); err != nil {
		return "", "", fmt.Errorf("has an invalid repository name (%w)", err)
	}
	return owner, name, nil
}

// splitSelected reads a comma/newline list of repository names; "org/name"
// is accepted when org is the target organization.
func splitSelected(s, org string) ([]string, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' })
	seen := map[string]bool{}
	out := []string{}
	for _, f := range fields {
		name := f
		if o, n, ok := strings.Cut(f, "/"); ok {
			if !strings.EqualFold(o, org) {
				return nil, fmt.Errorf("%q is not in organization %s", f, org)
			}
			name = n
		}
		if err := ghsecret.ValidateRepo(name); err != nil {
			return nil, fmt.Errorf("%q is not a repository name (%w)", f, err)
		}
		if !seen[strings.ToLower(name)] {
			seen[strings.ToLower(name)] = true
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no repository names")
	}
	return out, nil
}

// errPlainHTTP is parseBaseURL's error for http:// to a host that is not
// loopback; its message names the https URL to use.
var errPlainHTTP = errors.New("is plain http")

// parseBaseURL checks an API root and returns it without a trailing slash.
func parseBaseURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", errors.New("is not a URL")
	case u.Scheme != "https" && u.Scheme != "http":
		return "", errors.New("is not an http(s) URL")
	case u.Host == "":
		return "", errors.New("has no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", errors.New("must not carry a query, fragment or user info")
	case u.Scheme == "http" && !ghsecret.IsLoopback(u.Hostname()):
		// A credential goes with every request: only an emulator on this
		// machine may be reached in clear.
		return "", fmt.Errorf("%w to %s, which is not a loopback address, so the token would travel unencrypted "+
			"(plain http is only for an emulator on 127.0.0.1, ::1 or localhost); use https://%s", errPlainHTTP, u.Hostname(), strings.TrimPrefix(strings.TrimRight(u.String(), "/"), "http://"))
	}
	return strings.TrimRight(u.String(), "/"), nil
}

func sourceNote(from string) string {
	if from == inGrooAPIURL || from == inGitHubAPIURL {
		return "value"
	}
	return "from " + from
}
