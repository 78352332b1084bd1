package interop

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// mustBuildAuthd builds cmd/authd of this repository.
func mustBuildAuthd(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "authd")
	if out, err := exec.Command("go", "build", "-C", root, "-o", bin, "./cmd/authd").CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/authd: %v\n%s", err, out)
	}
	return bin
}

// mustAuthd runs authd serve with settings on a fresh database and
// returns its base URL; it is stopped when the test ends.
func mustAuthd(t *testing.T, bin string, settings ...string) (string, []string) {
	t.Helper()
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"AUTHD_ADDR=127.0.0.1:0",
		"AUTHD_DB=" + filepath.Join(t.TempDir(), "authd.db"),
		"AUTHD_COOKIE_SECURE=false",
	}, settings...)
	cmd := exec.Command(bin, "serve")
	cmd.Env = env
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("authd printed no address: %v", err)
	}
	return "http://" + strings.TrimSpace(line), env
}

// mustLogin registers a user on authd and logs in; it returns the access
// token and the refresh token.
func mustLogin(t *testing.T, base string) (string, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(path string) map[string]any {
		body := `{"username":"ivy","password":"ivy's long password"}`
		resp, err := c.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s = %d %v", path, resp.StatusCode, m)
		}
		return m
	}
	post("/auth/register/")
	access, _ := post("/auth/login/")["access_token"].(string)
	var refresh string
	u, _ := url.Parse(base)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "refresh_token" {
			refresh = ck.Value
		}
	}
	if access == "" || refresh == "" {
		t.Fatal("login gave no tokens")
	}
	return access, refresh
}

// TestEdDSAWithGolangJWT: an EdDSA access token verifies with golang-jwt
// v5, its key fetched from the JWKS by keyfunc; the usual options of a
// careful service (algorithm, issuer, audience, expiry) hold; the classic
// confusion, an HS256 token keyed with the public key, and the refresh
// token are refused.
func TestEdDSAWithGolangJWT(t *testing.T) {
	bin := mustBuildAuthd(t)
	base, _ := mustAuthd(t, bin, "AUTHD_ACCESS_ALG=EdDSA", "AUTHD_AUDIENCE=example")
	access, refresh := mustLogin(t, base)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{base + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatalf("keyfunc: %v", err)
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{"EdDSA"}),
		jwt.WithIssuer("authd"),
		jwt.WithAudience("example"),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30 * time.Second),
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(access, claims, kf.Keyfunc, opts...)
	if err != nil || !tok.Valid {
		t.Fatalf("golang-jwt with keyfunc: %v", err)
	}
	if claims["username"] != "ivy" || claims["token_type"] != "access" || claims["sid"] == nil {
		t.Errorf("claims %v", claims)
	}
	if tok.Header["kid"] == nil || tok.Method.Alg() != "EdDSA" {
		t.Errorf("header %v", tok.Header)
	}

	// The same with the key taken from the JWKS by hand.
	var set struct {
		Keys []struct{ Kid, X string } `json:"keys"`
	}
	r, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(r.Body).Decode(&set)
	r.Body.Close()
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS keys %v", set.Keys)
	}
	x, _ := base64.RawURLEncoding.DecodeString(set.Keys[0].X)
	pub := ed25519.PublicKey(x)
	if _, err := jwt.Parse(access, func(*jwt.Token) (any, error) { return pub, nil }, opts...); err != nil {
		t.Errorf("golang-jwt with the JWKS's key: %v", err)
	}

	// Refusals.
	_, body, _ := strings.Cut(access, ".")
	body, _, _ = strings.Cut(body, ".")
	hs := enc(`{"alg":"HS256","typ":"JWT","kid":"`+set.Keys[0].Kid+`"}`) + "." + body
	confused := hs + "." + mac(pub, hs)
	for name, bad := range map[string]string{"HS256 keyed with the public key": confused, "the refresh token": refresh} {
		if _, err := jwt.Parse(bad, kf.Keyfunc, opts...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := jwt.Parse(access, kf.Keyfunc, append(opts, jwt.WithAudience("billing"))...); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Errorf("another audience: err = %v, want %v", err, jwt.ErrTokenInvalidAudience)
	}
}

// TestHS256WithGolangJWT: an HS256 access token verifies with golang-jwt
// v5 and the key `authd keys access-secret` prints, read as a JWK Set by
// keyfunc; a refresh token does not.
func TestHS256WithGolangJWT(t *testing.T) {
	bin := mustBuildAuthd(t)
	base, env := mustAuthd(t, bin)
	access, refresh := mustLogin(t, base)
	cmd := exec.Command(bin, "keys", "access-secret")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("authd keys access-secret: %v", err)
	}
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(out))
	if err != nil {
		t.Fatalf("keyfunc of %s: %v", out, err)
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("authd"), jwt.WithExpirationRequired()}
	if _, err := jwt.Parse(access, kf.Keyfunc, opts...); err != nil {
		t.Errorf("golang-jwt, HS256 with the printed key: %v", err)
	}
	if _, err := jwt.Parse(refresh, kf.Keyfunc, opts...); err == nil {
		t.Error("the refresh token verifies with the access key")
	}
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mac(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
