package emulator

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/nacl/box"
)

const (
	ghTimeFmt     = "2006-01-02T15:04:05Z"
	ghDocs        = "https://docs.github.com/rest"
	ghDocsSecrets = "https://docs.github.com/rest/actions/secrets"
	maxSecretSize = 48 * 1024
)

type ghCredential struct {
	readOnly bool
	expires  *time.Time // minted installation tokens
}

type ghRepo struct {
	id          int64
	owner, name string
}

func (r *ghRepo) fullName() string { return r.owner + "/" + r.name }

type ghInstallation struct {
	id      int64
	appID   int64
	account string
}

type ghSecret struct {
	name             string
	value            string
	visibility       string
	selected         []int64
	created, updated time.Time
	keyID            string
	writes           int
}

// scope kinds, named after the scope key prefixes.
const (
	kindRepo          = "repo"
	kindEnv           = "env"
	kindOrg           = "org"
	kindDependabot    = "dependabot"
	kindDependabotOrg = "dependabot-org"
)

func orgKind(kind string) bool { return kind == kindOrg || kind == kindDependabotOrg }

// ghReq is a parsed GitHub request.
type ghReq struct {
	route string
	sub   string // public-key, list, item, repos, repos-item (secret routes)
	kind  string // scope kind (secret routes)
	scope string // scope key; also set for gh.repo and gh.installation (fault filter)

	owner, repo string // as in the URL
	repoID      int64  // legacy /repositories/{id}
	org         string
	env         string
	name        string // secret name as in the URL
	itemRepoID  int64  // /orgs/{org}/.../secrets/{name}/repositories/{repo_id}
	installID   int64
	badID       bool
}

func splitPath(path string) []string {
	var segs []string
	for _, s := range strings.Split(strings.Trim(path, "/"), "/") {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
		}
		segs = append(segs, s)
	}
	return segs
}

// parseSecretTail reads what follows ".../secrets": nothing (list),
// public-key, {name}, and for organizations {name}/repositories[/{id}].
func (q *ghReq) parseSecretTail(method string, rest []string) {
	switch {
	case len(rest) == 0:
		q.route, q.sub = RouteSecretList, "list"
	case len(rest) == 1 && rest[0] == "public-key":
		q.route, q.sub = RoutePublicKey, "public-key"
	case len(rest) == 1:
		q.name, q.sub = rest[0], "item"
		switch method {
		case http.MethodPut:
			q.route = RouteSecretPut
		case http.MethodDelete:
			q.route = RouteSecretDelete
		default:
			q.route = RouteSecretGet
		}
	case orgKind(q.kind) && len(rest) == 2 && rest[1] == "repositories":
		q.route, q.sub, q.name = RouteSecretRepos, "repos", rest[0]
	case orgKind(q.kind) && len(rest) == 3 && rest[1] == "repositories":
		q.route, q.sub, q.name = RouteSecretRepos, "repos-item", rest[0]
		id, err := strconv.ParseInt(rest[2], 10, 64)
		q.itemRepoID, q.badID = id, err != nil
	default:
		q.route = RouteGitHubUnknown
	}
}

// splitEnv splits "env.../secrets[/x]" where the environment may span
// segments (an unescaped "prod/eu").
func splitEnv(tail []string) (env string, rest []string, ok bool) {
	n := len(tail)
	switch {
	case n >= 2 && tail[n-1] == "secrets":
		return strings.Join(tail[:n-1], "/"), nil, true
	case n >= 3 && tail[n-2] == "secrets":
		return strings.Join(tail[:n-2], "/"), tail[n-1:], true
	}
	return "", nil, false
}

// parseGitHub names the route and resolves its scope key. Callers hold e.mu.
func (e *Emulator) parseGitHub(method, path string) ghReq {
	segs := splitPath(path)
	q := ghReq{route: RouteGitHubUnknown}
	at := func(i int) string {
		if i < len(segs) {
			return segs[i]
		}
		return ""
	}
	switch {
	case at(0) == "repos" && len(segs) >= 3:
		q.owner, q.repo = segs[1], segs[2]
		switch {
		case len(segs) == 3:
			q.route = RouteRepo
		case len(segs) == 4 && segs[3] == "installation":
			q.route = RouteInstallation
		case at(3) == "actions" && at(4) == "secrets":
			q.kind = kindRepo
			q.parseSecretTail(method, segs[5:])
		case at(3) == "dependabot" && at(4) == "secrets":
			q.kind = kindDependabot
			q.parseSecretTail(method, segs[5:])
		case at(3) == "environments":
			if env, rest, ok := splitEnv(segs[4:]); ok && env != "" {
				q.kind, q.env = kindEnv, env
				q.parseSecretTail(method, rest)
			}
		}
	case at(0) == "repositories" && len(segs) >= 2:
		id, err := strconv.ParseInt(segs[1], 10, 64)
		q.repoID, q.badID = id, err != nil
		switch {
		case len(segs) == 2:
			q.route = RouteRepo
		case at(2) == "environments":
			if env, rest, ok := splitEnv(segs[3:]); ok && env != "" {
				q.kind, q.env = kindEnv, env
				q.parseSecretTail(method, rest)
			}
		}
	case at(0) == "orgs" && len(segs) >= 2:
		q.org = segs[1]
		switch {
		case len(segs) == 2:
			q.route = RouteOrg
		case len(segs) == 3 && segs[2] == "installation":
			q.route = RouteInstallation
		case at(2) == "actions" && at(3) == "secrets":
			q.kind = kindOrg
			q.parseSecretTail(method, segs[4:])
		case at(2) == "dependabot" && at(3) == "secrets":
			q.kind = kindDependabotOrg
			q.parseSecretTail(method, segs[4:])
		}
	case at(0) == "app" && at(1) == "installations" && len(segs) == 4 && segs[3] == "access_tokens":
		q.route = RouteAppToken
		id, err := strconv.ParseInt(segs[2], 10, 64)
		q.installID, q.badID = id, err != nil
	}
	// Canonical names when the repository is known, else as given (faults
	// can still filter on them).
	if q.repoID != 0 {
		if r, ok := e.reposByID[q.repoID]; ok {
			q.owner, q.repo = r.owner, r.name
		}
	} else if q.owner != "" {
		if r, ok := e.repos[strings.ToLower(q.owner+"/"+q.repo)]; ok {
			q.owner, q.repo = r.owner, r.name
		}
	}
	if q.org != "" {
		if login, ok := e.orgs[strings.ToLower(q.org)]; ok {
			q.org = login
		}
	}
	full := q.owner + "/" + q.repo
	switch {
	case q.kind == kindEnv:
		q.scope = "env:" + full + ":" + q.env
	case q.kind == kindRepo || (q.kind == "" && q.owner != ""):
		q.scope = "repo:" + full
	case q.kind == kindDependabot:
		q.scope = "dependabot:" + full
	case q.kind == kindOrg || (q.kind == "" && q.org != ""):
		q.scope = "org:" + q.org
	case q.kind == kindDependabotOrg:
		q.scope = "dependabot-org:" + q.org
	}
	if q.owner == "" && q.repoID != 0 && q.kind == kindEnv {
		q.scope = "" // unknown repository id
	}
	return q
}

type ghErrorBody struct {
	Message          string `json:"message"`
	DocumentationURL string `json:"documentation_url"`
	Status           string `json:"status"`
}

func ghError(w http.ResponseWriter, status int, msg, docs string) {
	if docs == "" {
		docs = ghDocs
	}
	writeJSON(w, status, ghErrorBody{Message: msg, DocumentationURL: docs, Status: strconv.Itoa(status)})
}

func ghNotFound(w http.ResponseWriter) { ghError(w, http.StatusNotFound, "Not Found", "") }

// ghToken reads "Authorization: Bearer X" or "token X".
func ghToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, v, ok := strings.Cut(h, " ")
	if !ok {
		return ""
	}
	if strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "token") {
		return strings.TrimSpace(v)
	}
	return ""
}

func (e *Emulator) serveGitHub(w http.ResponseWriter, r *http.Request, path, prefix string) {
	// GitHub's answers carry the emulator's clock, whatever Groo's says.
	w.Header().Set("Date", e.now().Format(http.TimeFormat))
	e.mu.Lock()
	q := e.parseGitHub(r.Method, path)
	e.mu.Unlock()
	e.log.Debug("github request", "method", r.Method, "route", q.route, "scope", q.scope)

	// Admission first, so that WaitHit fires once the request counts as in
	// flight (MaxConcurrent tests rely on it).
	token := ghToken(r)
	release, breach := e.admit(w, r, token)
	e.recordHit(q.route)
	if breach != nil {
		breach()
		return
	}
	defer release()

	f, _ := e.takeFaults(q.route, q.scope)
	if !latency(r, f) {
		return
	}
	if f.Status != 0 {
		ghFault(w, f)
		return
	}
	handle := func(w http.ResponseWriter) { e.handleGitHub(w, r, q, token, prefix) }
	if f.Drop {
		drop(w, r, handle)
		return
	}
	handle(w)
}

func ghFault(w http.ResponseWriter, f Fault) {
	switch {
	case f.Message != "":
		ghError(w, f.Status, f.Message, "")
	case f.Status == http.StatusTooManyRequests || (f.Status == http.StatusForbidden && f.RetryAfter > 0):
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		ghError(w, f.Status, secondaryMessage, secondaryDocs)
	case f.Status == http.StatusForbidden:
		// A plain 403 (a permission refusal) carries no retry-after: with one,
		// clients rightly take it for a secondary rate limit.
		ghError(w, f.Status, "Resource not accessible by integration", "")
	case f.Status == http.StatusNotFound:
		ghNotFound(w)
	default:
		msg := http.StatusText(f.Status)
		if msg == "" {
			msg = "Emulated fault"
		}
		ghError(w, f.Status, msg, "")
	}
}

// jwtIssuer returns the "iss" claim of a well-formed JWT (the signature is
// not checked: the emulator trusts any app id it was seeded with).
func jwtIssuer(tok string) (iss string, exp int64, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", 0, false
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg == "" {
		return "", 0, false
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", 0, false
	}
	var claims struct {
		Iss json.RawMessage `json:"iss"`
		Exp json.Number     `json:"exp"`
	}
	if json.Unmarshal(pb, &claims) != nil {
		return "", 0, false
	}
	s := strings.Trim(string(claims.Iss), `"`)
	if s == "" {
		return "", 0, false
	}
	exp, _ = claims.Exp.Int64()
	return s, exp, true
}

// appFromJWT returns the seeded app the JWT speaks for. Callers hold e.mu.
func (e *Emulator) appFromJWT(tok string) (int64, bool) {
	iss, exp, ok := jwtIssuer(tok)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(iss, 10, 64)
	if err != nil || !e.apps[id] {
		return 0, false
	}
	if exp != 0 && e.now().Unix() > exp+60 {
		return 0, false
	}
	return id, true
}

func ghTime(t time.Time) string { return t.UTC().Format(ghTimeFmt) }

func baseURL(r *http.Request, prefix string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if r.URL.Host != "" {
		host = r.URL.Host
	}
	return scheme + "://" + host + prefix
}

func (e *Emulator) handleGitHub(w http.ResponseWriter, r *http.Request, q ghReq, token, prefix string) {
	// Decode the body before taking the lock.
	var put putBody
	var bodyErr error
	if r.Method == http.MethodPut && (q.route == RouteSecretPut || q.sub == "repos") {
		bodyErr = decodeJSON(r, &put)
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()

	// Authentication: app JWTs on app routes, tokens everywhere else.
	var appID int64
	var cred *ghCredential
	if q.route == RouteAppToken || q.route == RouteInstallation {
		if id, ok := e.appFromJWT(token); ok {
			appID = id
		}
	}
	if appID == 0 {
		c, ok := e.ghTokens[token]
		if ok && c.expires != nil && !now.Before(*c.expires) {
			ok = false
		}
		if token == "" {
			ghError(w, http.StatusUnauthorized, "Requires authentication", ghDocs)
			return
		}
		if !ok || q.route == RouteAppToken {
			if q.route == RouteAppToken {
				ghError(w, http.StatusUnauthorized, "A JSON web token could not be decoded", ghDocs)
				return
			}
			ghError(w, http.StatusUnauthorized, "Bad credentials", ghDocs)
			return
		}
		cred = c
	}

	if q.badID {
		ghNotFound(w)
		return
	}

	switch q.route {
	case RouteRepo:
		repo := e.lookupRepo(q)
		if repo == nil {
			ghNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, e.repoJSON(repo, r, prefix))
		return
	case RouteOrg:
		login, ok := e.orgs[strings.ToLower(q.org)]
		if !ok {
			ghNotFound(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"login": login, "id": stableID(login), "type": "Organization"})
		return
	case RouteInstallation:
		account := q.org
		if q.owner != "" {
			if e.lookupRepo(q) == nil {
				ghNotFound(w)
				return
			}
			account = q.owner
		}
		for _, id := range sortedKeys(e.installations) {
			in := e.installations[id]
			if strings.EqualFold(in.account, account) && (appID == 0 || in.appID == appID) {
				writeJSON(w, http.StatusOK, map[string]any{"id": in.id, "app_id": in.appID,
					"account": map[string]any{"login": in.account}, "target_type": "Organization"})
				return
			}
		}
		ghNotFound(w)
		return
	case RouteAppToken:
		in, ok := e.installations[q.installID]
		if !ok || in.appID != appID {
			ghNotFound(w)
			return
		}
		tok := "ghs_" + randomAlnum(36)
		exp := now.Add(time.Hour)
		e.ghTokens[tok] = &ghCredential{expires: &exp}
		writeJSON(w, http.StatusCreated, map[string]any{"token": tok, "expires_at": ghTime(exp),
			"permissions":          map[string]string{"secrets": "write", "organization_secrets": "write", "dependabot_secrets": "write", "environments": "write", "metadata": "read"},
			"repository_selection": "all"})
		return
	case RouteGitHubUnknown:
		ghNotFound(w)
		return
	}

	// Secret routes: resolve the scope.
	scope, ok := e.resolveScope(q)
	if !ok {
		ghNotFound(w)
		return
	}
	mutating := r.Method != http.MethodGet && r.Method != http.MethodHead
	if mutating && cred != nil && cred.readOnly {
		w.Header().Set("X-Accepted-GitHub-Permissions", "secrets=write")
		ghError(w, http.StatusForbidden, "Resource not accessible by integration", ghDocsSecrets)
		return
	}

	switch q.sub {
	case "public-key":
		if r.Method != http.MethodGet {
			ghNotFound(w)
			return
		}
		kp := e.keyFor(scope)
		writeJSON(w, http.StatusOK, map[string]string{"key_id": kp.id, "key": base64.StdEncoding.EncodeToString(kp.pub[:])})
	case "list":
		if r.Method != http.MethodGet {
			ghNotFound(w)
			return
		}
		e.listSecrets(w, r, q, scope, prefix)
	case "item":
		switch r.Method {
		case http.MethodGet:
			s, ok := e.secrets[scope][strings.ToUpper(q.name)]
			if !ok {
				ghNotFound(w)
				return
			}
			writeJSON(w, http.StatusOK, e.secretJSON(s, q, r, prefix))
		case http.MethodPut:
			e.putSecret(w, q, scope, put, bodyErr)
		case http.MethodDelete:
			name := strings.ToUpper(q.name)
			if _, ok := e.secrets[scope][name]; !ok {
				ghNotFound(w)
				return
			}
			delete(e.secrets[scope], name)
			e.journalAdd(JournalEntry{Kind: JournalDelete, Scope: scope, Name: name})
			e.log.Info("github secret deleted", "scope", scope, "name", name)
			w.WriteHeader(http.StatusNoContent)
		default:
			ghNotFound(w)
		}
	case "repos", "repos-item":
		e.secretRepos(w, r, q, scope, put, bodyErr)
	default:
		ghNotFound(w)
	}
}

func randomAlnum(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	raw := randomHex(n)
	out := make([]byte, n)
	for i := range out {
		v, _ := strconv.ParseUint(raw[2*i:2*i+2], 16, 8)
		out[i] = alphabet[int(v)%len(alphabet)]
	}
	return string(out)
}

// stableID derives a stable numeric id from a name, so that ids do not
// depend on the order things were seeded in.
func stableID(name string) int64 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(strings.ToLower(name)))
	return 10_000_000 + int64(h.Sum32()%89_999_999)
}

// lookupRepo finds the request's repository. Callers hold e.mu.
func (e *Emulator) lookupRepo(q ghReq) *ghRepo {
	if q.repoID != 0 {
		return e.reposByID[q.repoID]
	}
	return e.repos[strings.ToLower(q.owner+"/"+q.repo)]
}

func (e *Emulator) repoJSON(repo *ghRepo, r *http.Request, prefix string) map[string]any {
	return map[string]any{
		"id": repo.id, "name": repo.name, "full_name": repo.fullName(), "private": true,
		"owner": map[string]any{"login": repo.owner, "id": stableID(repo.owner), "type": "Organization"},
		"url":   baseURL(r, prefix) + "/repos/" + repo.fullName(),
	}
}

// resolveScope checks that the request's repository or organization exists
// and returns its canonical scope key. Environments of a known repository
// are accepted even when not seeded (they are recorded on first write).
// Callers hold e.mu.
func (e *Emulator) resolveScope(q ghReq) (string, bool) {
	switch q.kind {
	case kindRepo, kindDependabot, kindEnv:
		if e.lookupRepo(q) == nil {
			return "", false
		}
	case kindOrg, kindDependabotOrg:
		if _, ok := e.orgs[strings.ToLower(q.org)]; !ok {
			return "", false
		}
	default:
		return "", false
	}
	return q.scope, q.scope != ""
}

type ghSecretJSON struct {
	Name                    string `json:"name"`
	CreatedAt               string `json:"created_at"`
	UpdatedAt               string `json:"updated_at"`
	Visibility              string `json:"visibility,omitempty"`
	SelectedRepositoriesURL string `json:"selected_repositories_url,omitempty"`
}

func (e *Emulator) secretJSON(s *ghSecret, q ghReq, r *http.Request, prefix string) ghSecretJSON {
	out := ghSecretJSON{Name: s.name, CreatedAt: ghTime(s.created), UpdatedAt: ghTime(s.updated)}
	if orgKind(q.kind) {
		out.Visibility = s.visibility
		if s.visibility == "selected" {
			area := "actions"
			if q.kind == kindDependabotOrg {
				area = "dependabot"
			}
			out.SelectedRepositoriesURL = baseURL(r, prefix) + "/orgs/" + q.org + "/" + area + "/secrets/" + s.name + "/repositories"
		}
	}
	return out
}

// page reads per_page (default 30, at most 100) and page (default 1).
func page(r *http.Request) (perPage, pageNo int) {
	perPage, pageNo = 30, 1
	if v, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && v > 0 {
		perPage = min(v, 100)
	}
	if v, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && v > 0 {
		pageNo = v
	}
	return perPage, pageNo
}

// setLink writes GitHub's Link header for a paginated list.
func setLink(w http.ResponseWriter, r *http.Request, prefix string, total, perPage, pageNo int) {
	last := max(1, (total+perPage-1)/perPage)
	u := *r.URL
	u.Scheme, u.Host, u.User = "", "", nil
	link := func(p int, rel string) string {
		v := u.Query()
		v.Set("per_page", strconv.Itoa(perPage))
		v.Set("page", strconv.Itoa(p))
		u.RawQuery = v.Encode()
		return fmt.Sprintf(`<%s%s>; rel="%s"`, baseURL(r, ""), u.RequestURI(), rel)
	}
	var links []string
	if pageNo < last {
		links = append(links, link(pageNo+1, "next"), link(last, "last"))
	}
	if pageNo > 1 {
		links = append(links, link(1, "first"), link(min(pageNo-1, last), "prev"))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
}

func (e *Emulator) listSecrets(w http.ResponseWriter, r *http.Request, q ghReq, scope, prefix string) {
	names := sortedKeys(e.secrets[scope])
	perPage, pageNo := page(r)
	setLink(w, r, prefix, len(names), perPage, pageNo)
	items := []ghSecretJSON{}
	for i := (pageNo - 1) * perPage; i < len(names) && i < pageNo*perPage; i++ {
		items = append(items, e.secretJSON(e.secrets[scope][names[i]], q, r, prefix))
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(names), "secrets": items})
}

type putBody struct {
	EncryptedValue        *string           `json:"encrypted_value"`
	KeyID                 *string           `json:"key_id"`
	Visibility            *string           `json:"visibility"`
	SelectedRepositoryIDs []json.RawMessage `json:"selected_repository_ids"`
}

// validSecretName applies GitHub's rules.
func validSecretName(name string) (msg string, ok bool) {
	if name == "" {
		return "Secret name is required.", false
	}
	for _, c := range name {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or underscores (_). Spaces are not allowed.", false
		}
	}
	if name[0] >= '0' && name[0] <= '9' {
		return "Secret names must not start with a number.", false
	}
	if strings.HasPrefix(strings.ToUpper(name), "GITHUB_") {
		return "Secret names must not start with GITHUB_.", false
	}
	return "", true
}

const base64Pattern = `/^(?:[A-Za-z0-9+\/]{4})*(?:[A-Za-z0-9+\/]{2}==|[A-Za-z0-9+\/]{3}=|[A-Za-z0-9+\/]{4})$/`

// repoIDs parses selected_repository_ids (integers, or strings of digits as
// Dependabot's schema allows) and checks each is a repository of org.
// Callers hold e.mu.
func (e *Emulator) repoIDs(raw []json.RawMessage, org string) ([]int64, string) {
	ids := []int64{}
	for _, rm := range raw {
		s := strings.Trim(string(rm), `"`)
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Sprintf("Invalid request.\n\n%s is not an integer repository id.", string(rm))
		}
		repo, ok := e.reposByID[id]
		if !ok || !strings.EqualFold(repo.owner, org) {
			return nil, fmt.Sprintf("Bad request - repository id %d is not a repository of %s.", id, org)
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, ""
}

// putSecret creates or updates a secret. Callers hold e.mu.
func (e *Emulator) putSecret(w http.ResponseWriter, q ghReq, scope string, body putBody, bodyErr error) {
	docs := ghDocsSecrets
	if bodyErr != nil {
		ghError(w, http.StatusBadRequest, "Problems parsing JSON", docs)
		return
	}
	if msg, ok := validSecretName(q.name); !ok {
		ghError(w, http.StatusUnprocessableEntity, msg, docs)
		return
	}
	name := strings.ToUpper(q.name)
	if body.EncryptedValue == nil {
		ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"encrypted_value\" wasn't supplied.", docs)
		return
	}
	if body.KeyID == nil {
		ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"key_id\" wasn't supplied.", docs)
		return
	}
	ct, err := base64.StdEncoding.Strict().DecodeString(*body.EncryptedValue)
	if err != nil {
		// GitHub echoes the value; the emulator does not, in case a client
		// sent a token in clear.
		ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\nencrypted_value does not match "+base64Pattern+".", docs)
		return
	}
	kp := e.keyFor(scope)
	if *body.KeyID != kp.id {
		ghError(w, http.StatusUnprocessableEntity, "Bad request - key_id does not match the current public key of this scope", docs)
		return
	}
	plain, ok := box.OpenAnonymous(nil, ct, &kp.pub, &kp.priv)
	if !ok {
		ghError(w, http.StatusUnprocessableEntity, "Bad request - validation failed due to an improperly encrypted secret", docs)
		return
	}
	if len(plain) > maxSecretSize {
		ghError(w, http.StatusUnprocessableEntity, "Bad request - secret value exceeds 48 KB", docs)
		return
	}

	existing := e.secrets[scope][name]
	visibility, selected := "", []int64(nil)
	if orgKind(q.kind) {
		if body.Visibility == nil {
			ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"visibility\" wasn't supplied.", docs)
			return
		}
		switch v := *body.Visibility; v {
		case "all", "private":
			visibility = v
		case "selected":
			visibility = v
			// GitHub's trap, modelled faithfully: "selected" without ids
			// leaves the secret with no repository at all.
			ids, msg := e.repoIDs(body.SelectedRepositoryIDs, q.org)
			if msg != "" {
				ghError(w, http.StatusUnprocessableEntity, msg, docs)
				return
			}
			selected = ids
		default:
			ghError(w, http.StatusUnprocessableEntity,
				fmt.Sprintf("Invalid request.\n\nFor 'properties/visibility', %q is not a member of [\"all\", \"private\", \"selected\"].", v), docs)
			return
		}
	}

	now := e.now()
	if q.kind == kindEnv {
		e.envs[scope] = true
	}
	if e.secrets[scope] == nil {
		e.secrets[scope] = map[string]*ghSecret{}
	}
	value := string(plain)
	e.checkWrite(scope, name, value)
	e.journalAdd(JournalEntry{Kind: JournalWrite, TokenID: e.tokenIDOf(value), Scope: scope, Name: name})
	if existing != nil {
		existing.value, existing.updated, existing.keyID = value, now, kp.id
		existing.visibility, existing.selected = visibility, selected
		existing.writes++
		e.log.Info("github secret updated", "scope", scope, "name", name)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	e.secrets[scope][name] = &ghSecret{name: name, value: value, visibility: visibility, selected: selected,
		created: now, updated: now, keyID: kp.id, writes: 1}
	e.log.Info("github secret created", "scope", scope, "name", name)
	writeJSON(w, http.StatusCreated, struct{}{})
}

// secretRepos serves /orgs/{org}/{actions|dependabot}/secrets/{name}/repositories[/{id}].
// Callers hold e.mu.
func (e *Emulator) secretRepos(w http.ResponseWriter, r *http.Request, q ghReq, scope string, body putBody, bodyErr error) {
	s, ok := e.secrets[scope][strings.ToUpper(q.name)]
	if !ok {
		ghNotFound(w)
		return
	}
	conflict := func() bool {
		if s.visibility != "selected" {
			ghError(w, http.StatusConflict, "The secret's visibility is not 'selected'.", ghDocsSecrets)
			return true
		}
		return false
	}
	if q.sub == "repos" {
		switch r.Method {
		case http.MethodGet:
			repos := []map[string]any{}
			for _, id := range s.selected {
				if repo, ok := e.reposByID[id]; ok {
					repos = append(repos, e.repoJSON(repo, r, ""))
				}
			}
			perPage, pageNo := page(r)
			setLink(w, r, "", len(repos), perPage, pageNo)
			lo, hi := min(len(repos), (pageNo-1)*perPage), min(len(repos), pageNo*perPage)
			writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repositories": repos[lo:hi]})
		case http.MethodPut:
			if bodyErr != nil {
				ghError(w, http.StatusBadRequest, "Problems parsing JSON", ghDocsSecrets)
				return
			}
			if conflict() {
				return
			}
			if body.SelectedRepositoryIDs == nil {
				ghError(w, http.StatusUnprocessableEntity, "Invalid request.\n\n\"selected_repository_ids\" wasn't supplied.", ghDocsSecrets)
				return
			}
			ids, msg := e.repoIDs(body.SelectedRepositoryIDs, q.org)
			if msg != "" {
				ghError(w, http.StatusUnprocessableEntity, msg, ghDocsSecrets)
				return
			}
			s.selected = ids
			w.WriteHeader(http.StatusNoContent)
		default:
			ghNotFound(w)
		}
		return
	}
	// repos-item
	if r.Method != http.MethodPut && r.Method != http.MethodDelete {
		ghNotFound(w)
		return
	}
	if conflict() {
		return
	}
	repo, ok := e.reposByID[q.itemRepoID]
	if !ok || !strings.EqualFold(repo.owner, q.org) {
		ghError(w, http.StatusUnprocessableEntity, fmt.Sprintf("Bad request - repository id %d is not a repository of %s.", q.itemRepoID, q.org), ghDocsSecrets)
		return
	}
	kept := []int64{}
	for _, id := range s.selected {
		if id != repo.id {
			kept = append(kept, id)
		}
	}
	if r.Method == http.MethodPut {
		kept = append(kept, repo.id)
		sort.Slice(kept, func(i, j int) bool { return kept[i] < kept[j] })
	}
	s.selected = kept
	w.WriteHeader(http.StatusNoContent)
}

// tokenIDOf names the Groo token whose secret is value, "" if none.
// Callers hold e.mu.
func (e *Emulator) tokenIDOf(value string) string {
	if t, ok := e.tokenBySec[value]; ok {
		return t.id
	}
	return ""
}

// ceilSeconds rounds a wait up to whole seconds, at least 1.
func ceilSeconds(d time.Duration) int {
	return max(1, int(math.Ceil(d.Seconds())))
}

func sortedKeys[K int64 | string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	return keys
}
