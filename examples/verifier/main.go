// Command verifier is an example of a service beside authd that verifies
// authd's access tokens on its own, signed with EdDSA
// (AUTHD_ACCESS_ALG=EdDSA), with the public keys authd publishes at
// /.well-known/jwks.json: it caches them and fetches them again when a
// token names a key it does not know, as after `authd keys rotate`. It
// uses the standard library only.
//
//	verifier -addr 127.0.0.1:8081 -jwks http://127.0.0.1:8000/.well-known/jwks.json -audience api
//
// GET / with "Authorization: Bearer <access token>" answers the user it
// names; any other request 401. Such a service does not learn of a
// logout: it accepts a token until it expires. One that must not asks
// authd's gate, GET /auth/verify/, for each request instead (or sits
// behind a reverse proxy that does).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run serves until ctx is done, printing the address it listens on alone
// on the first line of stdout.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("verifier", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8081", "listen address")
	jwksURL := fs.String("jwks", "http://127.0.0.1:8000/.well-known/jwks.json", "authd's JWKS")
	issuer := fs.String("issuer", "authd", "authd's AUTHD_ISSUER")
	aud := fs.String("audience", "", "this service's name among authd's AUTHD_AUDIENCE (empty: aud is not checked)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v := &Verifier{Keys: &KeySet{URL: *jwksURL, MinRefresh: 10 * time.Second}, Issuer: *issuer, Audience: *aud}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	srv := &http.Server{Handler: handler(v), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// handler answers GET / with the user of the request's access token.
func handler(v *Verifier) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		c, err := v.Verify(r.Context(), tok)
		if !ok || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_token"})
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"user_id": c.Subject, "username": c.Username, "session_id": c.SessionID})
	})
	return mux
}
