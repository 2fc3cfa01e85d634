package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/groo/pat-action/internal/ghsecret"
	"github.com/groo/pat-action/internal/groo"
)

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
		// A target whose scope, secret and use case are known is compared
		// with the others even when its schedule or TTL is refused: every
		// problem is reported in one pass.
		t, ok := p.parseTarget(resolve(item), path, cfg.Defaults, sched)
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
		if ok {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
}

// parseTarget builds one target. It returns nil when the target's identity
// (scope, secret, use case) is not known, and the target with ok false when
// the identity is known but something else about it was refused.
func (p *parser) parseTarget(n *yaml.Node, path string, def Defaults, sched *scheduleCache) (tc *TargetConfig, ok bool) {
	f := targetFields{nodes: map[string]*yaml.Node{}}
	before := len(p.errs)
	identityErrs := 0 // refusals of the keys that name the target
	identity := func(h func(k, v *yaml.Node, path string)) func(k, v *yaml.Node, path string) {
		return func(k, v *yaml.Node, path string) {
			n := len(p.errs)
			h(k, v, path)
			identityErrs += len(p.errs) - n
		}
	}
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
		"repository":   identity(setStr(&f.repository, true)),
		"environment":  identity(setStr(&f.environment, false)), // untrimmed: ValidateEnvironment refuses spaces at its ends
		"organization": identity(setStr(&f.organization, true)),
		"secret":       identity(setStr(&f.secret, false)),
		"visibility":   identity(setStr(&f.visibility, true)),
		"token-name":   identity(setStr(&f.tokenName, true)),
		"schedule":     setStr(&f.schedule, true),
		"ttl":          setDur(&f.ttl),
		"revoke-grace": setDur(&f.grace),
		"jitter":       setDur(&f.jitter),
		"dependabot": identity(func(k, v *yaml.Node, path string) {
			f.nodes[k.Value] = v
			f.dependabot, _ = p.boolean(v, path)
		}),
		"selected-repositories": identity(func(k, v *yaml.Node, path string) {
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
		}),
	})
	if identityErrs > 0 || n.Kind != yaml.MappingNode {
		return nil, false
	}
	// Another key was refused (a schedule, a duration, an unknown key): the
	// target is still named, for the duplicate checks, but its settings are
	// not judged on partial values.
	settingsOK := len(p.errs) == before

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
		return nil, false
	case f.repository != "":
		owner, repo, ok := strings.Cut(f.repository, "/")
		if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
			p.errorf(at("repository"), path+".repository", "%q: write owner/name, e.g. octo/app", f.repository)
			return nil, false
		}
		if err := errors.Join(ghsecret.ValidateOwner("owner", owner), ghsecret.ValidateRepo(repo)); err != nil {
			p.errorf(at("repository"), path+".repository", "%q: %v", f.repository, strings.ReplaceAll(err.Error(), "\n", "; "))
			return nil, false
		}
		t.Owner, t.Repo = owner, repo
		if _, set := f.nodes["environment"]; set {
			if err := ghsecret.ValidateEnvironment(f.environment); err != nil {
				p.errorf(at("environment"), path+".environment", "%v", err)
				return nil, false
			}
		}
		switch {
		case f.environment != "" && f.dependabot:
			p.errorf(at("dependabot"), path, "Dependabot secrets have no environment scope; remove environment or dependabot")
			return nil, false
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
			return nil, false
		}
		if err := ghsecret.ValidateOwner("organization", f.organization); err != nil {
			p.errorf(at("organization"), path+".organization", "%v", err)
			return nil, false
		}
		t.Org = f.organization
		t.Scope = ghsecret.ScopeOrganization
		if f.dependabot {
			t.Scope = ghsecret.ScopeDependabotOrganization
		}
	default:
		p.errorf(n, path, "no scope; add repository: OWNER/NAME or organization: ORG")
		return nil, false
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
		return nil, false
	}

	tc = &TargetConfig{
		Name: t.String(), Target: t, UseCase: t.UseCase(),
		ScheduleSpec: def.Schedule, TTL: def.TTL, Grace: def.Grace, Jitter: def.Jitter,
		Line: n.Line,
	}
	if f.tokenName != "" {
		// Counted in characters, as Groo and the Action count them.
		if n := utf8.RuneCountInString(f.tokenName); n > groo.MaxNameLen {
			p.errorf(at("token-name"), path+".token-name", "%d characters, more than the %d Groo accepts for a token name; use a shorter name", n, groo.MaxNameLen)
			return nil, false
		}
		tc.UseCase = f.tokenName
	}
	if !settingsOK {
		return tc, false
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
		return tc, false
	}
	tc.Schedule, tc.MaxInterval = s, maxGap
	if err := checkTTL(tc.TTL, maxGap, tc.Grace, tc.Jitter, tc.ScheduleSpec); err != nil {
		p.errorf(at("ttl"), path+".ttl", "%v", err)
		return tc, false
	}
	return tc, true
}
