//go:build e2e

package cluster

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"authd/internal/authdtest"
)

// TestReplicasFollowARotation: three replicas signing access tokens with
// EdDSA start together on a fresh database and share one key; `authd
// keys rotate`, run beside them on the same database, adds a key that all
// three publish within 10 s without restart, that signs after the publish
// delay on every replica, and whose tokens every replica accepts, as it
// still accepts those of the old key; the JWKS is the same on all three
// throughout.
func TestReplicasFollowARotation(t *testing.T) {
	t.Parallel()
	dbURL := mustDatabase(t)
	redisURL, prefix := mustRedis(t)
	bin := authdBin(t)
	const delay = 6 * time.Second
	settings := []string{
		"AUTHD_DB=" + dbURL,
		"AUTHD_REDIS_URL=" + redisURL,
		"AUTHD_REDIS_PREFIX=" + prefix,
		"AUTHD_COOKIE_SECURE=false",
		"AUTHD_TRUSTED_PROXIES=127.0.0.1/32",
		"AUTHD_THROTTLE_REGISTER=10000/minute",
		"AUTHD_THROTTLE_LOGIN=10000/minute",
		"AUTHD_THROTTLE_REFRESH=10000/minute",
		"AUTHD_HASH_CONCURRENCY=1",
		"AUTHD_ACCESS_ALG=EdDSA",
		"AUTHD_KEY_PUBLISH_DELAY=" + delay.String(),
		"AUTHD_AUDIENCE=cluster-services",
	}
	replicas := mustReplicas(t, bin, []string{"A", "B", "C"}, settings...)

	// sameJWKS returns the JWKS, failing the test unless every replica
	// serves the same bytes.
	sameJWKS := func(when string) authdtest.JWKSResponse {
		t.Helper()
		u := newClient(t)
		var first authdtest.JWKSResponse
		for i, r := range replicas {
			j := u.Via(r.Addr).JWKS()
			j.Want(t, "jwks of "+r.Name, 200, "")
			if i == 0 {
				first = j
			} else if !bytes.Equal(j.Body, first.Body) {
				t.Fatalf("%s: the JWKS of %s is %s, of %s %s", when, r.Name, j.Body, replicas[0].Name, first.Body)
			}
		}
		return first
	}
	start := sameJWKS("at start")
	if len(start.Keys) != 1 {
		t.Fatalf("JWKS at start: %s, want one key for the three replicas", start.Body)
	}
	first := start.Keys[0].Kid

	u := newClient(t)
	u.Via(replicas[0].Addr).MustRegister("rotor", "the rotor's password")
	login := func(r *authdtest.Server) string {
		t.Helper()
		return u.Via(r.Addr).MustLogin("rotor", "the rotor's password").AccessToken
	}
	// acceptedByAll fails the test unless every replica's gate admits tok.
	acceptedByAll := func(what, tok string) {
		t.Helper()
		for _, r := range replicas {
			if g := u.Via(r.Addr).Verify(tok); g.Status != 200 || g.Username != "rotor" {
				t.Errorf("%s at the gate of %s = %s", what, r.Name, g.Response)
			}
		}
	}
	old := login(replicas[0])
	if alg, kid := authdtest.TokenHeader(old); alg != "EdDSA" || kid != first {
		t.Fatalf("token of %s: alg %s kid %s, want EdDSA %s", replicas[0].Name, alg, kid, first)
	}
	acceptedByAll("a token of the first key", old)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "keys", "rotate")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, settings...)
	out, err := cmd.CombinedOutput()
	rotated := time.Now()
	if err != nil || !strings.Contains(string(out), "added Ed25519 key 2") {
		t.Fatalf("authd keys rotate: %v\n%s", err, out)
	}

	// Published by all within 10 s, without restart.
	var second string
	for deadline := rotated.Add(10 * time.Second); second == "" && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		var kids [][]string
		for _, r := range replicas {
			kids = append(kids, u.Via(r.Addr).JWKS().Kids())
		}
		if len(kids[0]) == 2 && len(kids[1]) == 2 && len(kids[2]) == 2 {
			second = kids[0][1]
		}
	}
	if second == "" {
		t.Fatalf("the new key is not published by all three replicas 10 s after the rotation")
	}
	published := time.Since(rotated)
	jwks := sameJWKS("once published")
	if got := jwks.Kids(); len(got) != 2 || got[0] != first || got[1] != second {
		t.Fatalf("JWKS once published: %v", got)
	}
	t.Logf("the new key was published by all three %.1f s after the rotation", published.Seconds())

	// Still in the delay: the first key signs on every replica.
	for _, r := range replicas {
		if time.Since(rotated) > delay-time.Second {
			break
		}
		if _, kid := authdtest.TokenHeader(login(r)); kid != first {
			t.Errorf("%s signed with %s within the publish delay, want %s", r.Name, kid, first)
		}
	}

	// After the delay and a poll: the new key signs everywhere, and its
	// tokens pass every replica's gate, as the old key's still do.
	time.Sleep(time.Until(rotated.Add(delay + 3*time.Second)))
	for _, r := range replicas {
		tok := login(r)
		if _, kid := authdtest.TokenHeader(tok); kid != second {
			t.Errorf("%s signs with %s after the delay, want %s", r.Name, kid, second)
		}
		acceptedByAll("a token of the new key from "+r.Name, tok)
	}
	acceptedByAll("the token of the first key after the rotation", old)
	sameJWKS("after the delay")

	// A logout on one replica closes every replica's gate to the session.
	u.Via(replicas[1].Addr).MustLogout(old)
	for _, r := range replicas {
		untilStatus(t, "the gate of "+r.Name+" after logout on "+replicas[1].Name, 401,
			func() int { return u.Via(r.Addr).Verify(old).Status })
	}
}
