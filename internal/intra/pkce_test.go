package intra_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"authd/fakeintra"
	"authd/internal/intra"
)

// The example of RFC 7636, Appendix B.
const (
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

func TestChallenge(t *testing.T) {
	t.Parallel()
	if got := intra.Challenge(rfcVerifier); got != rfcChallenge {
		t.Errorf("Challenge(%q) = %q, want %q", rfcVerifier, got, rfcChallenge)
	}
}

// unreserved43 is a code verifier of RFC 7636 §4.1 of the recommended
// length, in base64url's alphabet.
var unreserved43 = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func TestVerifier(t *testing.T) {
	t.Parallel()
	client := func(secret string) *intra.Client {
		return intra.New(intra.Config{ClientID: app.ID, ClientSecret: secret, RedirectURI: callback})
	}
	c := client(app.Secret)
	const state = "Jx0pD5aG1m0v2QvRk6xP3c9yE4tH7sW8uL1oN2bV5zA"
	v := c.Verifier(state)
	if !unreserved43.MatchString(v) {
		t.Errorf("verifier %q is not 43 base64url characters", v)
	}
	if strings.Contains(v, state) || v == c.Verifier("") {
		t.Errorf("verifier %q shows the state or ignores it", v)
	}
	// The same flow gets the same verifier from any replica.
	if again := client(app.Secret).Verifier(state); again != v {
		t.Errorf("verifier of the same state and secret: %q, then %q", v, again)
	}
	// Another flow, or another key, gets another one.
	for name, other := range map[string]string{
		"another state":           c.Verifier(state + "x"),
		"a state one letter away": c.Verifier("Kx0pD5aG1m0v2QvRk6xP3c9yE4tH7sW8uL1oN2bV5zA"),
		"another secret":          client(app.Secret + "x").Verifier(state),
	} {
		if other == v {
			t.Errorf("%s: same verifier %q", name, v)
		}
	}
}

// TestExchangeCarriesTheFlowsVerifier: the code exchange sends the
// verifier whose S256 challenge the flow's authorize URL carried.
func TestExchangeCarriesTheFlowsVerifier(t *testing.T) {
	t.Parallel()
	p := newProvider(t, nil)
	c := p.client(callback, app.Secret)
	const state = "the state of this flow"
	u, err := url.Parse(c.AuthorizeURL(state, intra.Challenge(c.Verifier(state))))
	if err != nil {
		t.Fatal(err)
	}
	sent := u.Query()
	if got := sent.Get("code_challenge_method"); got != "S256" {
		t.Errorf("code_challenge_method %q, want S256", got)
	}
	if _, err := c.Identify(context.Background(), p.mustCodeOf(t, c, "jdoe", state), c.Verifier(state)); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.forms) != 1 {
		t.Fatalf("%d token requests, want 1", len(p.forms))
	}
	verifier := p.forms[0].Get("code_verifier")
	sum := sha256.Sum256([]byte(verifier))
	if got, want := base64.RawURLEncoding.EncodeToString(sum[:]), sent.Get("code_challenge"); !unreserved43.MatchString(verifier) || got != want {
		t.Errorf("code_verifier %q hashes to %q; the authorize URL's challenge is %q", verifier, got, want)
	}
}

// TestCodeOfAnotherFlowIsRejected: a code issued to one flow, brought
// with another flow's verifier, is refused, and stays good for its own.
func TestCodeOfAnotherFlowIsRejected(t *testing.T) {
	t.Parallel()
	p := newProvider(t, nil)
	c := p.client(callback, app.Secret)
	victims := p.mustCodeOf(t, c, "jdoe", "the victim's state")
	_, err := c.Identify(context.Background(), victims, c.Verifier("the attacker's state"))
	if !errors.Is(err, intra.ErrRejected) || errors.Is(err, intra.ErrProvider) {
		t.Fatalf("err %v, want ErrRejected only", err)
	}
	assertClean(t, err, append(p.secretsIn(victims), c.Verifier("the attacker's state")))
	id, err := c.Identify(context.Background(), victims, c.Verifier("the victim's state"))
	if err != nil || id.Login != "jdoe" {
		t.Fatalf("the code's own flow: %+v, %v", id, err)
	}
}

// TestProviderWithoutPKCE: a provider that ignores PKCE, as Doorkeeper
// before 5.0 does, still logs the user in.
func TestProviderWithoutPKCE(t *testing.T) {
	t.Parallel()
	p := newProvider(t, func(o *fakeintra.Options) { o.WithoutPKCE = true })
	c := p.client(callback, app.Secret)
	id, err := c.Identify(context.Background(), p.mustCode(t, c, "alice"), c.Verifier(flowState))
	if err != nil || id.Login != "alice" {
		t.Errorf("Identify = %+v, %v", id, err)
	}
}
