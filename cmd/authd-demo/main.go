// Command authd-demo serves a small web page that uses authd the way a
// browser front end should: from the same origin as the API. It serves the
// page and passes /auth/, /oauth2/, /healthz and /readyz through a reverse
// proxy to authd, every method included, so the browser sees one origin,
// sends the HttpOnly cookies with its calls and never handles a refresh or
// Intra token itself. Besides logging in with a password or with 42, the
// page lists the user's sessions and ends them, logs out the others,
// changes the password and unlinks the 42 account, and sets up
// two-factor authentication: it asks authd for a secret and has this
// program draw its otpauth URL as a QR code (POST /qr.svg), which authd
// itself never does; it asks for the second factor at login, renews the
// recovery codes and turns two-factor authentication off.
//
// It prints the address it listens on as the first line of its standard
// output, so that a test can start it with -addr 127.0.0.1:0.
//
// When the 42 provider sends the browser back to the callback, authd
// answers JSON; a front end's server turns that into a page. This one
// answers the browser's navigation with a redirect to its page,
// /?intra=ok or /?intra=<error code>, keeping authd's Set-Cookie headers.
// Calls made with fetch get authd's answer unchanged.
package main

import (
	"authd/cmd/authd-demo/internal/qr"
	"authd/internal/program"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func main() {
	program.Main("authd-demo", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	})
}

// usageError is a mistake in the command line.
type usageError = program.UsageError

const (
	readHeaderTimeout = 5 * time.Second
	// writeTimeout leaves room for a callback that waits 10 s on the provider.
	writeTimeout = 30 * time.Second
	idleTimeout  = 2 * time.Minute
	drainTimeout = 10 * time.Second
)

// apiPrefixes are the paths passed to authd; everything else is the page.
var apiPrefixes = []string{"/auth/", "/oauth2/", "/healthz", "/readyz"}

const callbackPath = "/oauth2/intra/callback/"

// qrPath answers a POST with the QR code of the text of its body, as SVG.
// The text comes in the body, not in the URL, so that the TOTP secret of
// an otpauth URL lands in no access log, history or cache.
const qrPath = "/qr.svg"

const (
	// maxQRBody bounds the body of a POST to qrPath; anything longer is
	// refused unread. A QR code holds less (qrLevel's capacity), an
	// otpauth URL of authd much less (about 520 bytes at most).
	maxQRBody = 4 << 10
	// qrLevel recovers about 15% of a code's modules: a glare on a
	// screen, a shaky phone.
	qrLevel = qr.M
	// qrScale is the pixels of a module in the SVG's own size: an
	// otpauth URL of the default issuer, of 111 to 140 bytes, is a symbol
	// of version 7 or 8, 45 or 49 modules and the quiet zone, 212 or 228
	// pixels wide.
	qrScale = 4
)

//go:embed static
var static embed.FS

// run is the whole program: main gives it the process's pieces, tests give
// it their own. It serves until ctx is done, then drains.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("authd-demo", flag.ContinueOnError)
	fset.SetOutput(stderr)
	addr := fset.String("addr", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free one")
	api := fset.String("authd", "http://127.0.0.1:8000", "base `URL` of authd, where the API calls are passed")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), `Usage: authd-demo [flags]

authd-demo serves a demo page that logs in with a password or with 42
through authd, lists and ends the user's sessions, changes the password,
links or unlinks 42 and sets up two-factor authentication (drawing the QR
code of the otpauth URL itself, POST /qr.svg), from the same origin as the
API (a reverse proxy passes /auth/, /oauth2/, /healthz and /readyz to
authd). authd's Intra redirect URI must be this origin's
/oauth2/intra/callback/.

Flags:
`)
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{Msg: err.Error()}
	}
	if fset.NArg() > 0 {
		return usageError{Msg: fmt.Sprintf("unexpected argument %q", fset.Arg(0))}
	}
	upstream, err := url.Parse(*api)
	if err != nil || (upstream.Scheme != "http" && upstream.Scheme != "https") || upstream.Host == "" {
		return usageError{Msg: fmt.Sprintf("-authd %q: want a base URL such as http://127.0.0.1:8000", *api)}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	errLog := log.New(stderr, "authd-demo: ", 0)
	srv := &http.Server{
		Handler:           newHandler(upstream, errLog),
		ReadHeaderTimeout: readHeaderTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          errLog,
	}
	fmt.Fprintln(stdout, ln.Addr().String())
	fmt.Fprintf(stderr, "authd-demo: serving http://%s/ with the API of %s\n", ln.Addr(), upstream)

	return program.Serve(ctx, srv, ln, drainTimeout, nil)
}

// newHandler serves the page and passes the API's paths to upstream.
func newHandler(upstream *url.URL, errLog *log.Logger) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream)
			// authd compares a request's Origin with the Host the browser
			// used, to refuse cross-site calls: keep it.
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		ModifyResponse: backToPage,
		ErrorLog:       errLog,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			errLog.Printf("%s %s: %v", r.Method, r.URL.Path, err)
			writeError(w, http.StatusBadGateway, "authd_unavailable", "authd did not answer the demo's proxy; is it running?")
		},
	}
	mux := http.NewServeMux()
	for _, p := range apiPrefixes {
		mux.Handle(p, proxy)
	}
	mux.Handle(qrPath, http.HandlerFunc(serveQR))
	page, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded folder is part of the binary
	}
	files := http.FileServerFS(page)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		// img-src blob: lets the page show the QR code it fetched with a POST.
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	}))
	return mux
}

// serveQR answers a POST with the QR code of its body, UTF-8 text, as SVG.
// Whatever the text, the answer is the code or a 4xx: an empty body, one
// that is not UTF-8 or that no QR code holds is 400, one longer than
// maxQRBody 413. Nothing is kept or logged, and nothing may cache the
// answer: the text is a secret.
func serveQR(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Send the text in the body of a POST.")
		return
	}
	text, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxQRBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_long", fmt.Sprintf("The body is more than %d bytes.", maxQRBody))
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request", "The body could not be read.")
		return
	case len(text) == 0 || !utf8.Valid(text):
		writeError(w, http.StatusBadRequest, "invalid_request", "The body must be the text of the QR code, UTF-8, not empty.")
		return
	}
	code, err := qr.Encode(text, qrLevel)
	if err != nil { // too long is the only error a valid level can give
		writeError(w, http.StatusBadRequest, "too_long",
			fmt.Sprintf("A QR code holds at most %d bytes at level %v.", qr.Capacity(qr.MaxVersion, qrLevel), qrLevel))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'")
	w.Write(code.SVG(qrScale))
}

// backToPage turns authd's answer to the browser's arrival at the callback
// (a top-level navigation, not a fetch) into a redirect to the page, which
// then shows the outcome. The cookies authd sets or clears are kept.
func backToPage(resp *http.Response) error {
	r := resp.Request
	if r.URL.Path != callbackPath || r.Method != http.MethodGet || !isNavigation(r) {
		return nil
	}
	outcome := "ok"
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e) == nil && e.Error != "" {
			outcome = e.Error
		} else {
			outcome = strconv.Itoa(resp.StatusCode)
		}
	}
	resp.Body.Close()
	resp.StatusCode = http.StatusSeeOther
	resp.Status = ""
	resp.Header.Del("Content-Type")
	resp.Header.Del("Content-Length")
	resp.Header.Set("Location", "/?intra="+url.QueryEscape(outcome))
	resp.Body = http.NoBody
	resp.ContentLength = 0
	return nil
}

// isNavigation reports whether the browser is loading a page, rather than
// a script fetching data.
func isNavigation(r *http.Request) bool {
	if m := r.Header.Get("Sec-Fetch-Mode"); m != "" {
		return m == "navigate"
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// writeError writes an error in authd's form, {"error","detail"}.
func writeError(w http.ResponseWriter, status int, code, detail string) {
	writeJSON(w, status, map[string]string{"error": code, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
