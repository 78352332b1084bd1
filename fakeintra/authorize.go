package fakeintra

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// preAuth is an authorization request that names a registered client and
// one of its redirect URIs.
type preAuth struct {
	client      Client
	redirectURI string
	state       string
	scopes      []string
	// challenge and challengeMethod are the PKCE parameters, as sent.
	challenge, challengeMethod string
}

// handleAuthorize is GET /oauth/authorize: the consent page, or, with the
// fake's consent parameter, its answer straight away.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pre, ok := s.preAuthorize(w, q, false)
	if !ok {
		return
	}
	login, fixed := s.signedIn(r, q.Get("login"))
	switch q.Get("consent") {
	case "authorize":
		s.approve(w, pre, login)
	case "cancel":
		s.deny(w, pre)
	case "":
		s.consentPage(w, pre, login, fixed)
	default:
		errorPage(w, http.StatusBadRequest, "The consent parameter of this fake provider must be authorize or cancel.")
	}
}

// handleConsent is the consent form's answer: POST /oauth/authorize for
// Authorize; DELETE, or POST with _method=delete as Rails forms send it,
// for Cancel.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		errorPage(w, http.StatusBadRequest, errInvalidRequest.Description)
		return
	}
	pre, ok := s.preAuthorize(w, r.Form, true)
	if !ok {
		return
	}
	if r.Method == http.MethodDelete || strings.EqualFold(r.Form.Get("_method"), "delete") {
		s.deny(w, pre)
		return
	}
	login := r.Form.Get("login")
	if login == "" {
		login, _ = s.signedIn(r, "")
	}
	s.approve(w, pre, login)
}

// preAuthorize checks an authorization request. An unknown client or an
// unregistered redirect URI gets the provider's error page; the other
// errors go back to the client's redirect URI, but for an unknown code
// challenge method, which gets the error page when the request is the
// page's (GET) and goes back to the client from the consent form (form).
func (s *Server) preAuthorize(w http.ResponseWriter, v url.Values, form bool) (preAuth, bool) {
	c, ok := s.clients[v.Get("client_id")]
	if !ok {
		errorPage(w, http.StatusBadRequest, errInvalidClient.Description)
		return preAuth{}, false
	}
	pre := preAuth{client: c, redirectURI: v.Get("redirect_uri"), state: v.Get("state")}
	if !c.registered(pre.redirectURI) {
		errorPage(w, http.StatusBadRequest, errInvalidRedirectURI.Description)
		return preAuth{}, false
	}
	if v.Get("response_type") != "code" {
		s.redirectError(w, pre, errUnsupportedResponseType)
		return preAuth{}, false
	}
	if pre.scopes, ok = parseScopes(v.Get("scope")); !ok {
		s.redirectError(w, pre, errInvalidScope)
		return preAuth{}, false
	}
	if s.noPKCE {
		return pre, true
	}
	pre.challenge, pre.challengeMethod = v.Get("code_challenge"), v.Get("code_challenge_method")
	if !challengeMethodAccepted(pre.challenge, pre.challengeMethod) {
		// Doorkeeper 5.0 renders the errors of GET /oauth/authorize on its
		// error page (AuthorizationsController#new), and redirects those
		// of the form's POST to the client (#create through
		// OAuth::CodeRequest#authorize, an ErrorResponse being redirectable
		// unless it is invalid_redirect_uri or invalid_client).
		if form {
			s.redirectError(w, pre, errInvalidCodeChallengeMethod)
		} else {
			errorPage(w, http.StatusBadRequest, errInvalidCodeChallengeMethod.Description)
		}
		return preAuth{}, false
	}
	return pre, true
}

// signedIn is the login the consent page acts for, and whether it is
// fixed (by the login parameter or Options.Login) or only remembered
// from the last Authorize (the cookie), the page then offering a picker.
func (s *Server) signedIn(r *http.Request, param string) (string, bool) {
	if param != "" {
		return param, true
	}
	if s.login != "" {
		return s.login, true
	}
	if c, err := r.Cookie(loginCookie); err == nil {
		return c.Value, false
	}
	return "", false
}

// approve issues a code for the user and sends the browser back with it.
func (s *Server) approve(w http.ResponseWriter, pre preAuth, login string) {
	u := s.byLogin[login]
	if u == nil {
		errorPage(w, http.StatusBadRequest, fmt.Sprintf("No user %q is signed in at this fake provider: pick one of its users.", login))
		return
	}
	code := randomHex()
	s.mu.Lock()
	s.codes[code] = &grant{
		clientID: pre.client.ID, redirectURI: pre.redirectURI, userID: u.ID, scopes: pre.scopes, created: s.now(),
		challenge: pre.challenge, challengeMethod: pre.challengeMethod,
	}
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{
		Name: loginCookie, Value: login, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int((30 * 24 * time.Hour).Seconds()),
	})
	params := url.Values{"code": {code}}
	if pre.state != "" {
		params.Set("state", pre.state)
	}
	redirect(w, pre.redirectURI, params)
}

// deny sends the browser back with access_denied.
func (s *Server) deny(w http.ResponseWriter, pre preAuth) {
	s.redirectError(w, pre, errAccessDenied)
}

func (s *Server) redirectError(w http.ResponseWriter, pre preAuth, e oauthError) {
	params := url.Values{"error": {e.Name}, "error_description": {e.Description}}
	if pre.state != "" {
		params.Set("state", pre.state)
	}
	redirect(w, pre.redirectURI, params)
}

// redirect answers 302 to uri with params added to its query.
func redirect(w http.ResponseWriter, uri string, params url.Values) {
	u, err := url.Parse(uri)
	if err != nil {
		errorPage(w, http.StatusBadRequest, errInvalidRedirectURI.Description)
		return
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	loc := u.String()
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusFound)
	fmt.Fprintf(w, `<html><body>You are being <a href="%s">redirected</a>.</body></html>`, template.HTMLEscapeString(loc))
}

// pages are the consent page and the error page. The consent forms carry
// the request's parameters in hidden fields, code_challenge and
// code_challenge_method among them, as Doorkeeper 5.0's
// app/views/doorkeeper/authorizations/new.html.erb does.
var pages = template.Must(template.New("consent").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Intra Profile Home</title>
<style>body{font-family:sans-serif;max-width:34em;margin:4em auto;color:#333}
button{padding:.5em 1.5em;margin-right:1em;cursor:pointer}.authorize{background:#00babc;color:#fff;border:0}</style></head>
<body>
<h1>Authorization required</h1>
<p>Authorize <strong>{{.App}}</strong> to use your account?</p>
<p>This application will be able to:</p>
<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>
<form method="post" action="/oauth/authorize">
{{if .Fixed}}<p>Signed in as <strong>{{.Login}}</strong></p>
<input type="hidden" name="login" value="{{.Login}}">
{{else}}<p><label>Signed in as <select name="login">{{range .Users}}
<option value="{{.Login}}"{{if .Selected}} selected{{end}}>{{.Login}} ({{.DisplayName}})</option>{{end}}
</select></label></p>
{{end}}{{template "hidden" .}}
<button type="submit" class="authorize">Authorize</button>
</form>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="_method" value="delete">
{{template "hidden" .}}
<button type="submit">Cancel</button>
</form>
</body>
</html>
{{define "hidden"}}<input type="hidden" name="client_id" value="{{.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.RedirectURI}}">
<input type="hidden" name="state" value="{{.State}}">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="scope" value="{{.Scope}}">
<input type="hidden" name="code_challenge" value="{{.Challenge}}">
<input type="hidden" name="code_challenge_method" value="{{.ChallengeMethod}}">
{{end}}{{define "error"}}<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Intra Profile Home</title></head>
<body>
<div class="page-header"><h1>An error has occurred</h1></div>
<main role="main"><pre>{{.}}</pre></main>
</body>
</html>
{{end}}`))

var scopeDescriptions = map[string]string{
	"public":    "Access the user's public data",
	"projects":  "Register the user to projects",
	"profile":   "Manage the user's profile",
	"elearning": "Read the user's e-learning data",
	"tig":       "Manage the user's community services",
	"forum":     "Post on the forum for the user",
}

type pickUser struct {
	Login, DisplayName string
	Selected           bool
}

func (s *Server) consentPage(w http.ResponseWriter, pre preAuth, login string, fixed bool) {
	if fixed && s.byLogin[login] == nil {
		errorPage(w, http.StatusBadRequest, fmt.Sprintf("No user %q is signed in at this fake provider: pick one of its users.", login))
		return
	}
	data := struct {
		App, ClientID, RedirectURI, State, Scope, Login string
		Challenge, ChallengeMethod                      string
		Scopes                                          []string
		Fixed                                           bool
		Users                                           []pickUser
	}{
		App: pre.client.Name, ClientID: pre.client.ID, RedirectURI: pre.redirectURI, State: pre.state,
		Scope: strings.Join(pre.scopes, " "), Login: login, Fixed: fixed,
		Challenge: pre.challenge, ChallengeMethod: pre.challengeMethod,
	}
	for _, sc := range pre.scopes {
		data.Scopes = append(data.Scopes, scopeDescriptions[sc])
	}
	for _, u := range s.users {
		data.Users = append(data.Users, pickUser{Login: u.Login, DisplayName: u.DisplayName, Selected: u.Login == login})
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Frame-Options", "SAMEORIGIN")
	pages.Execute(w, data)
}

// errorPage is the provider's own error page, shown instead of a redirect.
func errorPage(w http.ResponseWriter, status int, description string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	pages.ExecuteTemplate(w, "error", description)
}
