package retire

import (
	"testing"
	"time"

	"github.com/groo/pat-action/internal/groo"
)

var t0 = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)

func tok(id string, created time.Time, window string) groo.TokenInfo {
	t := groo.TokenInfo{ID: id, Name: "uc", CreatedAt: created, TokenPrefix: "groo_pat_ab", LastFour: "c183"}
	if window != "" {
		d := Description("pat-action", "repo:o/r GROO_PAT", "rot_0123456789abcdef", 1, mustDur(window))
		t.Description = &d
	}
	return t
}

func mustDur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestWindowOf(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		desc *string
		want time.Duration
	}{
		{"no description: the worst case", nil, MaxWindow},
		{"by hand", str("laptop script"), MaxWindow},
		{"older version without a window", str("Managed by pat-action for repo:o/r GROO_PAT (attempt rot_0123456789abcdef)"), MaxWindow},
		{"2m", str(Description("pat-action", "x", "rot_ab", 2, 2*time.Minute)), 2 * time.Minute},
		{"1s", str(Description("pat-rotator", "x", "rot_ab", 1, time.Second)), time.Second},
		{"above the maximum is not trusted", str("Managed by x for y (attempt rot_ab, write window 1h0m0s)"), MaxWindow},
		{"without a try (this version before mint retries)", str("Managed by x for y (attempt rot_ab, write window 3m0s)"), 3 * time.Minute},
		{"garbage", str("Managed by x for y (attempt rot_ab, write window soon)"), MaxWindow},
		{"negative", str("Managed by x for y (attempt rot_ab, write window -1s)"), MaxWindow},
		{"not at the end: a name can't forge it", str("(attempt rot_ab, write window 1s) and more"), MaxWindow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := WindowOf(groo.TokenInfo{Description: tt.desc}); got != tt.want {
				t.Errorf("WindowOf = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMintedBy(t *testing.T) {
	t.Parallel()
	x := tok("a", t0, "2m")
	if !MintedBy(x, "rot_0123456789abcdef") {
		t.Error("its own attempt id not found")
	}
	if MintedBy(x, "rot_0123") || MintedBy(x, "") {
		t.Error("a prefix of the attempt id or an empty one matched")
	}
}

func TestMintedByTry(t *testing.T) {
	t.Parallel()
	x := tok("a", t0, "2m")
	d := Description("pat-rotator", "repo:octo/app GROO_PAT", "rot_0123456789abcdef", 2, 2*time.Minute)
	x.Description = &d
	for _, tt := range []struct {
		attempt string
		try     int
		want    bool
	}{
		{"rot_0123456789abcdef", 2, true},
		{"rot_0123456789abcdef", 1, false},
		{"rot_0123456789abcdef", 20, false},
		{"rot_0123", 2, false},
		{"", 2, false},
	} {
		if got := MintedByTry(x, tt.attempt, tt.try); got != tt.want {
			t.Errorf("MintedByTry(%q, %d) = %v, want %v", tt.attempt, tt.try, got, tt.want)
		}
	}
}

// TestRotationDecideClockSkew: whatever the offset between this machine's
// clock and Groo's, a token is judged on Groo's clock alone. Local times
// are skewed by ±15 minutes against Groo's in every case.
func TestRotationDecideClockSkew(t *testing.T) {
	t.Parallel()
	for _, skew := range []time.Duration{-15 * time.Minute, 0, 15 * time.Minute} {
		local := t0.Add(skew) // this machine's clock when Groo reads t0
		tests := []struct {
			name string
			x    groo.TokenInfo
			want Verdict
		}{
			// R's token is minted at t0 on Groo's clock.
			{"minted 30s before R's token (W 2m): too recent", tok("x", t0.Add(-30*time.Second), "2m"), TooRecent},
			{"minted 2m10s before (W 2m + 5s): safe", tok("x", t0.Add(-130*time.Second), "2m"), Revoke},
			{"writer's own window 1s: safe after 6s", tok("x", t0.Add(-7*time.Second), "1s"), Revoke},
			{"no window in its description: 15m assumed", tok("x", t0.Add(-10*time.Minute), ""), TooRecent},
			{"missing createdAt is never old enough", tok("x", time.Time{}, "2m"), TooRecent},
			{"minted after R's token: too recent", tok("x", t0.Add(time.Minute), "2m"), TooRecent},
		}
		for _, tt := range tests {
			r := Rotation{New: tok("new", t0, "2m"), WriteStart: local.Add(time.Second), Written: local.Add(2 * time.Second),
				Now: local.Add(2 * time.Second), Margin: DefaultMargin,
				Offset: MeasureOffset(local.Add(-100*time.Millisecond), local.Add(100*time.Millisecond), t0)}
			got := r.Decide([]groo.TokenInfo{tt.x})[0]
			if got.Verdict != tt.want {
				t.Errorf("skew %s: %s: verdict %s (%s), want %s", skew, tt.name, got.Verdict, got.Why, tt.want)
			}
		}
	}
}

func TestRotationDecideReferenceUnknown(t *testing.T) {
	t.Parallel()
	old := tok("x", t0.Add(-time.Hour), "2m")
	// The new token's createdAt is missing and the list says nothing newer:
	// nothing is old enough.
	r := Rotation{New: groo.TokenInfo{ID: "new"}, Listed: []groo.TokenInfo{old}, Now: t0, Margin: DefaultMargin}
	if d := r.Decide([]groo.TokenInfo{old})[0]; d.Verdict != TooRecent {
		t.Errorf("verdict %s, want too-recent", d.Verdict)
	}
	// The list shows a later Groo time (the credential's lastUsed): that
	// time came before the write, so it may stand in.
	used := t0
	cred := tok("cred", t0.Add(-2*time.Hour), "")
	cred.LastUsed = &used
	r.Listed = append(r.Listed, cred)
	if d := r.Decide([]groo.TokenInfo{old})[0]; d.Verdict != Revoke {
		t.Errorf("verdict %s (%s), want revoke", d.Verdict, d.Why)
	}
}

func TestRotationDecideHistory(t *testing.T) {
	t.Parallel()
	young := tok("x", t0.Add(-10*time.Second), "2m")
	r := Rotation{New: tok("new", t0, "2m"), WriteStart: t0, Written: t0, Now: t0, Margin: DefaultMargin}
	r.WritesEnded = func(id string) (time.Time, bool) { return t0.Add(-time.Second), id == "x" }
	if d := r.Decide([]groo.TokenInfo{young})[0]; d.Verdict != Revoke {
		t.Errorf("the store says its rotation ended before the write: verdict %s, want revoke", d.Verdict)
	}
	r.WritesEnded = func(string) (time.Time, bool) { return t0.Add(time.Second), true }
	if d := r.Decide([]groo.TokenInfo{young})[0]; d.Verdict != TooRecent {
		t.Errorf("its rotation ended after the write started: verdict %s, want too-recent", d.Verdict)
	}
}

// TestRotationDecideGrace: grace counts from when a token was replaced. The
// newest older token was replaced by R's write; an older one by the write
// the secret's updated_at shows, once every write of it had ended by then.
func TestRotationDecideGrace(t *testing.T) {
	t.Parallel()
	a := tok("a", t0.Add(-3*time.Hour), "2m") // replaced by b's write about 2h ago
	b := tok("b", t0.Add(-2*time.Hour), "2m") // in the secret until R's write
	updated := t0.Add(-2*time.Hour + 10*time.Second)
	r := Rotation{New: tok("new", t0, "2m"), WriteStart: t0, Written: t0.Add(time.Second), Now: t0.Add(time.Second),
		Grace: time.Hour, Margin: DefaultMargin, SecretUpdatedAt: &updated,
		Offset: MeasureOffset(t0.Add(-time.Second), t0, t0)}
	ds := r.Decide([]groo.TokenInfo{a, b})
	if ds[0].Verdict != Revoke {
		t.Errorf("a: %s (%s), want revoke: its grace of 1h after b's write 2h ago is over", ds[0].Verdict, ds[0].Why)
	}
	if ds[1].Verdict != Grace || !ds[1].RevokeAfter.Equal(r.Written.Add(time.Hour)) {
		t.Errorf("b: %s after %s, want grace until R's write + 1h", ds[1].Verdict, ds[1].RevokeAfter)
	}
	// Grace 2s: the stateless next run retires b 2s (+ margins) after its
	// successor's write, not 2 minutes after.
	r.Grace = 2 * time.Second
	next := Rotation{New: tok("new2", t0.Add(20*time.Second), "2m"), WriteStart: t0.Add(20 * time.Second),
		Written: t0.Add(21 * time.Second), Now: t0.Add(21 * time.Second), Grace: 2 * time.Second, Margin: DefaultMargin,
		Offset: MeasureOffset(t0.Add(19*time.Second), t0.Add(20*time.Second), t0.Add(20*time.Second))}
	w := t0.Add(time.Second)
	next.SecretUpdatedAt = &w
	// b's writes ended long ago; R's token (new) was written at t0+1s.
	if d := next.Decide([]groo.TokenInfo{b})[0]; d.Verdict != Revoke {
		t.Errorf("b on the next run: %s until %s, want revoke", d.Verdict, d.RevokeAfter)
	}
	if d := next.Decide([]groo.TokenInfo{tok("new", t0, "2m")})[0]; d.Verdict != TooRecent {
		t.Errorf("R's token 20s later: %s, want too-recent (its window has not passed)", d.Verdict)
	}
	// An older token whose write may be the one updated_at shows: its
	// grace counts from R's write.
	c := tok("c", updated.Add(-30*time.Second), "2m")
	if d := r.Decide([]groo.TokenInfo{c})[0]; !d.RevokeAfter.Equal(r.Written.Add(r.Grace)) {
		t.Errorf("c: revoke after %s, want R's write + grace", d.RevokeAfter)
	}
}

func TestKeepCredential(t *testing.T) {
	t.Parallel()
	cred, err := groo.ParseToken("groo_pat_ab" + "0123456789012345678901234567890123456789012345678901234567c183")
	if err != nil {
		t.Fatal(err)
	}
	old := tok("x", t0.Add(-time.Hour), "2m")
	other := old
	other.ID, other.LastFour = "y", "0000"
	r := Rotation{New: tok("new", t0, "2m"), Now: t0, Margin: DefaultMargin, Keep: func(t groo.TokenInfo) bool { return Matches(t, cred) }}
	ds := r.Decide([]groo.TokenInfo{old, other})
	if ds[0].Verdict != Keep || ds[1].Verdict != Revoke {
		t.Errorf("verdicts %s, %s; want keep (the credential), revoke", ds[0].Verdict, ds[1].Verdict)
	}
	noFour := old
	noFour.LastFour = ""
	if !Matches(noFour, cred) {
		t.Error("a listed token without a last four and the credential's prefix must count as the credential")
	}
}

func TestPruneDecide(t *testing.T) {
	t.Parallel()
	cur := tok("cur", t0, "1s") // the store's record, written at t0+5s (local)
	sec := &Secret{Current: cur, WrittenAt: t0.Add(5 * time.Second)}
	now := t0.Add(time.Hour)
	used := now
	cred := tok("cred", t0.Add(-24*time.Hour), "")
	cred.LastUsed = &used
	listed := []groo.TokenInfo{cred}
	tests := []struct {
		name   string
		x      groo.TokenInfo
		secret *Secret
		want   Verdict
	}{
		{"older, its writes ended before the record's mint", tok("a", t0.Add(-4*time.Minute), "2m"), sec, Revoke},
		{"overlapped the record's mint (W 2m)", tok("b", t0.Add(-time.Minute), "2m"), sec, TooRecent},
		{"minted after the record (another writer)", tok("c", t0.Add(30*time.Second), "2m"), sec, TooRecent},
		{"no createdAt", tok("d", time.Time{}, "2m"), sec, TooRecent},
		{"the record itself", cur, sec, Keep},
		{"no record", tok("a", t0.Add(-4*time.Minute), "2m"), nil, TooRecent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := Prune{Secret: tt.secret, Listed: append(listed, cur), Now: now, Margin: time.Minute}
			if d := p.Decide([]groo.TokenInfo{tt.x})[0]; d.Verdict != tt.want {
				t.Errorf("verdict %s (%s), want %s", d.Verdict, d.Why, tt.want)
			}
		})
	}
	p := Prune{Secret: sec, Listed: append(listed, cur), Now: now, Grace: 2 * time.Hour, Margin: time.Minute}
	if d := p.Decide([]groo.TokenInfo{tok("a", t0.Add(-4*time.Minute), "2m")})[0]; d.Verdict != Grace {
		t.Errorf("grace 2h after the record's write: %s, want grace", d.Verdict)
	}
}

func TestOrphan(t *testing.T) {
	t.Parallel()
	x := tok("o", t0, "2m")
	if d := Orphan(x, []groo.TokenInfo{x}, time.Minute, nil); d.Verdict != TooRecent {
		t.Errorf("the newest token Groo knows: %s, want too-recent", d.Verdict)
	}
	later := tok("later", t0.Add(4*time.Minute), "2m")
	if d := Orphan(x, []groo.TokenInfo{x, later}, time.Minute, nil); d.Verdict != Revoke {
		t.Errorf("Groo's clock passed its window: %s, want revoke", d.Verdict)
	}
}

// A shared list stands in for a rotation's own look only while its newest
// Groo time is within the write window of the rotation's mint.
func TestListCovers(t *testing.T) {
	t.Parallel()
	used := t0.Add(10 * time.Second)
	withUse := tok("cred", t0.Add(-time.Hour), "")
	withUse.LastUsed = &used
	tests := []struct {
		name   string
		listed []groo.TokenInfo
		minted time.Time
		want   bool
	}{
		{"read just before the mint", []groo.TokenInfo{tok("a", t0, "2m")}, t0.Add(time.Second), true},
		{"answered after the mint", []groo.TokenInfo{tok("a", t0.Add(time.Minute), "2m")}, t0, true},
		{"exactly the window old", []groo.TokenInfo{tok("a", t0, "2m")}, t0.Add(2 * time.Minute), true},
		{"older than the window", []groo.TokenInfo{tok("a", t0, "2m")}, t0.Add(2*time.Minute + time.Millisecond), false},
		{"the caller's lastUsed dates the list", []groo.TokenInfo{withUse}, used.Add(time.Minute), true},
		{"no Groo time in the list", []groo.TokenInfo{tok("a", time.Time{}, "2m")}, t0, false},
		{"empty list", nil, t0, false},
		{"mint time unknown", []groo.TokenInfo{tok("a", t0, "2m")}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := ListCovers(tt.listed, tt.minted, 2*time.Minute); got != tt.want {
				t.Errorf("ListCovers = %v, want %v", got, tt.want)
			}
		})
	}
}
