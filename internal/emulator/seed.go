package emulator

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

const (
	demoUserID    = "usr_demo"
	demoUserEmail = "demo@groo.dev"
)

// Seed adds users, tokens, repositories, environments, apps and secrets.
// Items are added in order; on error the items before the faulty one stay.
func (e *Emulator) Seed(s Seed) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()

	for _, u := range s.Groo.Users {
		if u.ID == "" {
			return errors.New("seed: groo user without id")
		}
		if _, dup := e.users[u.ID]; dup {
			return fmt.Errorf("seed: groo user %s already exists", u.ID)
		}
		e.users[u.ID] = &grooUser{id: u.ID, email: u.Email}
		e.userOrder = append(e.userOrder, u.ID)
	}
	for i, st := range s.Groo.Tokens {
		if st.Secret == "" {
			return fmt.Errorf("seed: groo token %d (%q) has no secret", i, st.Name)
		}
		if _, dup := e.tokenBySec[st.Secret]; dup {
			return fmt.Errorf("seed: groo token %d (%q): secret already seeded", i, st.Name)
		}
		id := st.ID
		if id == "" {
			id = "tok_" + randomHex(12)
		}
		if _, dup := e.tokenByID[id]; dup {
			return fmt.Errorf("seed: groo token id %s already exists", id)
		}
		user := st.User
		if user == "" {
			if len(e.userOrder) == 0 {
				e.users[demoUserID] = &grooUser{id: demoUserID, email: demoUserEmail}
				e.userOrder = append(e.userOrder, demoUserID)
			}
			user = e.userOrder[0]
		}
		if _, ok := e.users[user]; !ok {
			return fmt.Errorf("seed: groo token %s names unknown user %s; seed it under groo.users", id, user)
		}
		created := now.Add(e.GrooClockOffset()) // Groo's clock
		if st.CreatedAt != nil {
			created = st.CreatedAt.UTC()
		}
		t := &grooToken{id: id, name: st.Name, description: copyStr(st.Description), secret: st.Secret, user: user,
			expiresAt: utcPtr(st.ExpiresAt), createdAt: created, forbidden: st.Forbidden, revoked: st.Revoked}
		if st.Revoked {
			t.revokedAt = &created
		}
		e.addToken(t)
		e.journalAdd(JournalEntry{Kind: JournalSeedToken, TokenID: t.id})
	}

	gh := s.GitHub
	for _, tok := range gh.Tokens {
		if tok == "" {
			return errors.New("seed: empty github token")
		}
		e.ghTokens[tok] = &ghCredential{}
	}
	for _, tok := range gh.ReadOnlyTokens {
		if tok == "" {
			return errors.New("seed: empty read-only github token")
		}
		e.ghTokens[tok] = &ghCredential{readOnly: true}
	}
	for _, org := range gh.Orgs {
		if org == "" || strings.Contains(org, "/") {
			return fmt.Errorf("seed: organization %q: want a login such as octo", org)
		}
		e.addOrg(org)
	}
	for _, full := range gh.Repositories {
		if _, err := e.addRepo(full); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	for _, env := range gh.Environments {
		full, name, ok := strings.Cut(env, ":")
		if !ok || name == "" {
			return fmt.Errorf("seed: environment %q: want owner/repo:env", env)
		}
		repo, err := e.addRepo(full)
		if err != nil {
			return fmt.Errorf("seed: environment %q: %w", env, err)
		}
		e.envs["env:"+repo.fullName()+":"+name] = true
	}
	for _, app := range gh.Apps {
		if app.ID <= 0 {
			return fmt.Errorf("seed: github app id %d: want a positive id", app.ID)
		}
		e.apps[app.ID] = true
		for _, in := range app.Installations {
			if in.ID <= 0 || in.Account == "" {
				return fmt.Errorf("seed: app %d: installation %d on %q: want a positive id and an account", app.ID, in.ID, in.Account)
			}
			if prev, dup := e.installations[in.ID]; dup && prev.appID != app.ID {
				return fmt.Errorf("seed: installation %d belongs to app %d already", in.ID, prev.appID)
			}
			e.installations[in.ID] = &ghInstallation{id: in.ID, appID: app.ID, account: in.Account}
			if _, ok := e.orgs[strings.ToLower(in.Account)]; !ok {
				e.addOrg(in.Account)
			}
		}
	}
	for _, sec := range gh.Secrets {
		ref, err := e.parseScopeKey(sec.Scope)
		if err != nil {
			return fmt.Errorf("seed: secret %s: %w", sec.Name, err)
		}
		if msg, ok := validSecretName(sec.Name); !ok {
			return fmt.Errorf("seed: secret %s: %s", sec.Name, msg)
		}
		name := strings.ToUpper(sec.Name)
		visibility := ""
		var selected []int64
		if orgKind(ref.kind) {
			visibility = sec.Visibility
			if visibility == "" {
				visibility = "private"
			}
			if visibility == "selected" {
				selected = append([]int64{}, sec.SelectedRepositoryIDs...)
			}
		}
		if ref.kind == kindEnv {
			e.envs[ref.key] = true
		}
		if e.secrets[ref.key] == nil {
			e.secrets[ref.key] = map[string]*ghSecret{}
		}
		updated := now
		if sec.UpdatedAt != nil {
			updated = sec.UpdatedAt.UTC()
		}
		e.secrets[ref.key][name] = &ghSecret{name: name, value: sec.Value, visibility: visibility, selected: selected,
			created: updated, updated: updated, keyID: e.keyFor(ref.key).id}
		e.journalAdd(JournalEntry{Kind: JournalSeedWrite, TokenID: e.tokenIDOf(sec.Value), Scope: ref.key, Name: name})
	}
	return nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// addOrg registers an organization. Callers hold e.mu.
func (e *Emulator) addOrg(login string) {
	if _, ok := e.orgs[strings.ToLower(login)]; !ok {
		e.orgs[strings.ToLower(login)] = login
	}
}

// addRepo registers "owner/name" (idempotent) with a stable id. Callers hold e.mu.
func (e *Emulator) addRepo(full string) (*ghRepo, error) {
	owner, name, ok := strings.Cut(full, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("repository %q: want owner/name", full)
	}
	if r, ok := e.repos[strings.ToLower(full)]; ok {
		return r, nil
	}
	e.addOrg(owner)
	id := stableID(full)
	for e.reposByID[id] != nil {
		id++
	}
	r := &ghRepo{id: id, owner: e.orgs[strings.ToLower(owner)], name: name}
	e.repos[strings.ToLower(full)] = r
	e.reposByID[id] = r
	return r, nil
}

type scopeRef struct {
	kind string
	key  string // canonical scope key
}

// parseScopeKey checks a scope key against the known repositories and
// organizations and returns it in canonical form. Callers hold e.mu.
func (e *Emulator) parseScopeKey(key string) (scopeRef, error) {
	kind, rest, ok := strings.Cut(key, ":")
	if !ok || rest == "" {
		return scopeRef{}, fmt.Errorf("scope key %q: want repo:owner/name, env:owner/name:env, org:login, dependabot:owner/name or dependabot-org:login", key)
	}
	repo := func(full string) (*ghRepo, error) {
		r, ok := e.repos[strings.ToLower(full)]
		if !ok {
			return nil, fmt.Errorf("scope key %q: repository %s: %w", key, full, errNotFound)
		}
		return r, nil
	}
	org := func(login string) (string, error) {
		l, ok := e.orgs[strings.ToLower(login)]
		if !ok {
			return "", fmt.Errorf("scope key %q: organization %s: %w", key, login, errNotFound)
		}
		return l, nil
	}
	switch kind {
	case kindRepo, kindDependabot:
		r, err := repo(rest)
		if err != nil {
			return scopeRef{}, err
		}
		return scopeRef{kind: kind, key: kind + ":" + r.fullName()}, nil
	case kindEnv:
		full, env, ok := strings.Cut(rest, ":")
		if !ok || env == "" {
			return scopeRef{}, fmt.Errorf("scope key %q: want env:owner/name:env", key)
		}
		r, err := repo(full)
		if err != nil {
			return scopeRef{}, err
		}
		return scopeRef{kind: kind, key: "env:" + r.fullName() + ":" + env}, nil
	case kindOrg, kindDependabotOrg:
		l, err := org(rest)
		if err != nil {
			return scopeRef{}, err
		}
		return scopeRef{kind: kind, key: kind + ":" + l}, nil
	}
	return scopeRef{}, fmt.Errorf("scope key %q: unknown kind %q", key, kind)
}
