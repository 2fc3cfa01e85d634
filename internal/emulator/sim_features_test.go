package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestGrooClockOffset: Groo's times and Date header run on Groo's clock,
// GitHub's on the emulator's; expiry is judged on Groo's clock and the I1
// monitor still catches a revoke of the token a secret holds.
func TestGrooClockOffset(t *testing.T) {
	t.Parallel()
	for _, off := range []time.Duration{-15 * time.Minute, 15 * time.Minute} {
		t.Run(off.String(), func(t *testing.T) {
			t.Parallel()
			base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			e, url := newTestServer(t, testSeed(), WithClock(func() time.Time { return base }))
			e.SetGrooClockOffset(off)
			if e.GrooClockOffset() != off {
				t.Fatalf("offset %s", e.GrooClockOffset())
			}
			grooNow := base.Add(off)

			r := call(t, "POST", url+"/v1/account/tokens", bearer(patAlice),
				map[string]any{"name": "GitHub Actions - octo/app GROO_PAT", "expiresAt": grooNow.Add(time.Hour).Format(time.RFC3339)}).want(t, 201)
			tok := r.body["token"].(map[string]any)
			if got := tok["createdAt"]; got != grooNow.Format(grooTimeFmt) {
				t.Fatalf("createdAt %v, want Groo's clock %s", got, grooNow.Format(grooTimeFmt))
			}
			if got, _ := http.ParseTime(r.header.Get("Date")); !got.Equal(grooNow) {
				t.Fatalf("Groo's Date %s, want %s", r.header.Get("Date"), grooNow)
			}
			// An expiry in the future on the emulator's clock but not on
			// Groo's (or the reverse) is judged on Groo's.
			exp := base.Add(time.Minute)
			status := 201
			if off > 0 {
				status = 400
			}
			call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "n", "expiresAt": exp.Format(time.RFC3339)}).want(t, status)

			g := call(t, "GET", url+"/repos/octo/app", bearer(ghFull), nil).want(t, 200)
			if got, _ := http.ParseTime(g.header.Get("Date")); !got.Equal(base) {
				t.Fatalf("GitHub's Date %s, want the emulator's clock %s", g.header.Get("Date"), base)
			}
			secret := r.str("secret")
			putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", secret, nil).want(t, 201)
			st := e.State()
			sec, _ := st.Secret("repo:octo/app", "GROO_PAT")
			if !sec.UpdatedAt.Equal(base) || !st.Now.Equal(base) || !st.GrooNow.Equal(grooNow) {
				t.Fatalf("secret updated %s, now %s, groo now %s", sec.UpdatedAt, st.Now, st.GrooNow)
			}
			if live := st.LiveTokens("GitHub Actions - octo/app GROO_PAT"); len(live) != 2 {
				t.Fatalf("live on Groo's clock: %d", len(live))
			}
			call(t, "DELETE", url+"/v1/account/tokens/"+tok["id"].(string), bearer(patAlice), nil).want(t, 200)
			if v := e.Violations(); len(v) != 1 || !strings.Contains(v[0], tok["id"].(string)) {
				t.Fatalf("violations %q", v)
			}
			if rt, _ := e.State().TokenBySecret(secret); rt.RevokedAt == nil || !rt.RevokedAt.Equal(grooNow) {
				t.Fatalf("revokedAt %v, want Groo's clock", rt.RevokedAt)
			}
		})
	}

	// The admin route and the option.
	e, url := newTestServer(t, testSeed(), WithGrooClockOffset(time.Minute))
	if e.GrooClockOffset() != time.Minute {
		t.Fatal("WithGrooClockOffset")
	}
	call(t, "POST", url+"/_emulator/clock", "", `{"groo_offset":"-90s"}`).want(t, 204)
	if e.GrooClockOffset() != -90*time.Second {
		t.Fatalf("offset %s", e.GrooClockOffset())
	}
	if r := call(t, "GET", url+"/_emulator/clock", "", nil).want(t, 200); r.str("groo_offset") != "-1m30s" {
		t.Fatalf("clock %s", r.raw)
	}
	call(t, "POST", url+"/_emulator/clock", "", `{"groo_offset":"soon"}`).want(t, 400)
}

// TestFaultSequence: faults with growing Skip make an ordered sequence on
// one route: the first PUT acts and loses its answer, the second is refused,
// the third goes through.
func TestFaultSequence(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	e.SetFaults([]Fault{
		{Route: RouteSecretPut, Drop: true, Count: 1},
		{Route: RouteSecretPut, Status: 403, Count: 1, Skip: 1},
		{Route: RouteGrooMe, Status: 500, Skip: 2, Count: 1},
	})
	base := url + "/repos/octo/app/actions/secrets"
	k := call(t, "GET", base+"/public-key", bearer(ghFull), nil).want(t, 200)
	body, _ := json.Marshal(map[string]any{"encrypted_value": seal(t, k.str("key"), "first"), "key_id": k.str("key_id")})
	req, _ := http.NewRequest("PUT", base+"/GROO_PAT", strings.NewReader(string(body)))
	req.Header.Set("Authorization", bearer(ghFull))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if res, err := client.Do(req); err == nil {
		res.Body.Close()
		t.Fatalf("dropped PUT answered %d", res.StatusCode)
	}
	var faults []Fault
	r := call(t, "GET", url+"/_emulator/faults", "", nil).want(t, 200)
	if err := json.Unmarshal(r.raw, &faults); err != nil || len(faults) != 2 || faults[0].Skip != 0 || faults[1].Skip != 2 {
		t.Fatalf("faults left %s", r.raw)
	}
	putSecret(t, base, bearer(ghFull), "GROO_PAT", "second", nil).want(t, 403)
	if s, _ := e.State().Secret("repo:octo/app", "GROO_PAT"); s.Value != "first" {
		t.Fatalf("secret holds %q, want the dropped write's value", s.Value)
	}
	putSecret(t, base, bearer(ghFull), "GROO_PAT", "third", nil).want(t, 204)
	// groo.me: two pass, the third fails, the fourth passes.
	for i, want := range []int{200, 200, 500, 200} {
		if got := call(t, "GET", url+"/v1/auth/me", bearer(patAlice), nil).status; got != want {
			t.Fatalf("me #%d: %d, want %d", i+1, got, want)
		}
	}
}

// TestFaultLatencyWriteAbandoned: a PUT slowed past its client's timeout
// does not land; one slowed less than the timeout does.
func TestFaultLatencyWriteAbandoned(t *testing.T) {
	t.Parallel()
	e, url := newTestServer(t, testSeed())
	base := url + "/repos/octo/app/actions/secrets"
	put := func(value string, timeout time.Duration) error {
		k := call(t, "GET", base+"/public-key", bearer(ghFull), nil).want(t, 200)
		body, _ := json.Marshal(map[string]any{"encrypted_value": seal(t, k.str("key"), value), "key_id": k.str("key_id")})
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "PUT", base+"/GROO_PAT", strings.NewReader(string(body)))
		req.Header.Set("Authorization", bearer(ghFull))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		return nil
	}
	e.SetFaults([]Fault{{Route: RouteSecretPut, Latency: 300 * time.Millisecond, Count: 1}})
	if err := put("abandoned", 50*time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a timeout, got %v", err)
	}
	time.Sleep(400 * time.Millisecond) // past the latency: the handler has decided
	if _, ok := e.State().Secret("repo:octo/app", "GROO_PAT"); ok {
		t.Fatal("a write its client abandoned during the latency landed")
	}
	e.SetFaults([]Fault{{Route: RouteSecretPut, Latency: 30 * time.Millisecond, Count: 1}})
	if err := put("slow", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.State().Secret("repo:octo/app", "GROO_PAT"); s.Value != "slow" {
		t.Fatalf("the slow write did not land: %q", s.Value)
	}
}

// TestFaultMangle: Groo answers with damaged token fields; the token itself
// is as it should be, except short-expiresAt, which shortens it.
func TestFaultMangle(t *testing.T) {
	t.Parallel()
	exp := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	tests := []struct {
		mangle string
		check  func(t *testing.T, tok map[string]any, raw string)
	}{
		{MangleOmitCreatedAt, func(t *testing.T, tok map[string]any, _ string) {
			if _, ok := tok["createdAt"]; ok {
				t.Errorf("createdAt present: %v", tok)
			}
		}},
		{MangleNullCreatedAt, func(t *testing.T, tok map[string]any, raw string) {
			if v, ok := tok["createdAt"]; !ok || v != nil {
				t.Errorf("createdAt %v, want null", v)
			}
		}},
		{MangleBadCreatedAt, func(t *testing.T, tok map[string]any, _ string) {
			if tok["createdAt"] != "yesterday" {
				t.Errorf("createdAt %v", tok["createdAt"])
			}
		}},
		{MangleOmitExpiresAt, func(t *testing.T, tok map[string]any, _ string) {
			if _, ok := tok["expiresAt"]; ok {
				t.Errorf("expiresAt present: %v", tok)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.mangle, func(t *testing.T) {
			t.Parallel()
			e, url := newTestServer(t, testSeed())
			e.SetFaults([]Fault{{Route: RouteGrooCreate, Mangle: tt.mangle, Count: 1}, {Route: RouteGrooList, Mangle: tt.mangle, Count: 1}})
			r := call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "m", "expiresAt": exp.Format(time.RFC3339)}).want(t, 201)
			tt.check(t, r.body["token"].(map[string]any), string(r.raw))
			l := call(t, "GET", url+"/v1/account/tokens", bearer(patAlice), nil).want(t, 200)
			for _, x := range l.body["tokens"].([]any) {
				tt.check(t, x.(map[string]any), string(l.raw))
			}
			// Count 1: the next answers are whole again.
			l = call(t, "GET", url+"/v1/account/tokens", bearer(patAlice), nil).want(t, 200)
			for _, x := range l.body["tokens"].([]any) {
				if tok := x.(map[string]any); tok["createdAt"] == nil || tok["createdAt"] == "yesterday" {
					t.Errorf("mangled after the fault ran out: %v", tok)
				}
			}
			st, _ := e.State().TokenBySecret(r.str("secret"))
			if st.ExpiresAt == nil || !st.ExpiresAt.Equal(exp) || st.CreatedAt.IsZero() {
				t.Errorf("the token itself changed: %+v", st)
			}
		})
	}

	t.Run(MangleShortExpiresAt, func(t *testing.T) {
		t.Parallel()
		e, url := newTestServer(t, testSeed())
		e.SetFaults([]Fault{{Route: RouteGrooCreate, Mangle: MangleShortExpiresAt + "," + MangleOmitCreatedAt}})
		r := call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "s", "expiresAt": exp.Format(time.RFC3339)}).want(t, 201)
		tok := r.body["token"].(map[string]any)
		got, err := time.Parse(time.RFC3339, tok["expiresAt"].(string))
		if err != nil || !got.Before(exp.Add(-30*time.Minute)) || !got.After(time.Now()) {
			t.Fatalf("expiresAt %v, want earlier than asked (%s) and in the future", tok["expiresAt"], exp)
		}
		if _, ok := tok["createdAt"]; ok {
			t.Fatal("mangles do not combine")
		}
		st, _ := e.State().TokenBySecret(r.str("secret"))
		if !st.ExpiresAt.Truncate(time.Millisecond).Equal(got) {
			t.Fatalf("stored expiry %s, answered %s", st.ExpiresAt, got)
		}
		// Without an expiry asked, none is given.
		r = call(t, "POST", url+"/v1/account/tokens", bearer(patAlice), map[string]any{"name": "s"}).want(t, 201)
		if v := r.body["token"].(map[string]any)["expiresAt"]; v != nil {
			t.Fatalf("expiresAt %v", v)
		}
	})
}

// TestJournal: the emulator's history of changes, by token id.
func TestJournal(t *testing.T) {
	t.Parallel()
	updated := time.Now().Add(-time.Hour).UTC()
	seed := testSeed()
	seed.GitHub.Secrets = []SeedSecret{{Scope: "repo:octo/app", Name: "GROO_PAT", Value: patOld, UpdatedAt: &updated}}
	e, url := newTestServer(t, seed)
	if s, _ := e.State().Secret("repo:octo/app", "GROO_PAT"); !s.UpdatedAt.Equal(updated) || !s.CreatedAt.Equal(updated) {
		t.Fatalf("seeded secret times %s %s", s.CreatedAt, s.UpdatedAt)
	}
	r := call(t, "POST", url+"/v1/account/tokens", bearer(patOld), map[string]any{"name": "GitHub Actions - octo/app GROO_PAT"}).want(t, 201)
	call(t, "GET", url+"/v1/auth/me", bearer(r.str("secret")), nil).want(t, 200)
	putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "GROO_PAT", r.str("secret"), nil).want(t, 204)
	putSecret(t, url+"/repos/octo/app/actions/secrets", bearer(ghFull), "OTHER", "not a token", nil).want(t, 201)
	call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(r.str("secret")), nil).want(t, 200)
	call(t, "DELETE", url+"/v1/account/tokens/tok_old", bearer(r.str("secret")), nil).want(t, 200)
	call(t, "DELETE", url+"/repos/octo/app/actions/secrets/OTHER", bearer(ghFull), nil).want(t, 204)

	newID := r.body["token"].(map[string]any)["id"].(string)
	var kinds []string
	for i, j := range e.Journal() {
		if j.Seq != i+1 {
			t.Fatalf("seq %d at %d", j.Seq, i)
		}
		kinds = append(kinds, j.Kind+":"+j.TokenID+":"+j.Name+":"+j.By)
	}
	want := []string{
		"seed-token:tok_alice::", "seed-token:tok_bob::", "seed-token:tok_forbid::", "seed-token:tok_old::", "seed-write:tok_old:GROO_PAT:",
		"mint:" + newID + "::tok_old", "verify:" + newID + "::" + newID, "write:" + newID + ":GROO_PAT:", "write::OTHER:",
		"revoke:tok_old::" + newID, "delete::OTHER:",
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("journal\n%s\nwant\n%s", strings.Join(kinds, " "), strings.Join(want, " "))
	}
	var j []JournalEntry
	raw := call(t, "GET", url+"/_emulator/journal", "", nil).want(t, 200).raw
	if err := json.Unmarshal(raw, &j); err != nil || len(j) != len(want) {
		t.Fatalf("admin journal %s", raw)
	}
	if strings.Contains(string(raw), r.str("secret")) || strings.Contains(string(raw), patOld) {
		t.Fatal("the journal carries a token value")
	}
}

func TestFaultJSONSkipMangle(t *testing.T) {
	t.Parallel()
	f := Fault{Route: RouteGrooList, Skip: 2, Count: 1, Mangle: MangleOmitCreatedAt}
	b, err := json.Marshal(f)
	if err != nil || string(b) != `{"route":"groo.list","count":1,"skip":2,"mangle":"omit-createdAt"}` {
		t.Fatalf("marshal %s %v", b, err)
	}
	var back Fault
	if err := json.Unmarshal(b, &back); err != nil || back != f {
		t.Fatalf("round trip %+v %v", back, err)
	}
}
