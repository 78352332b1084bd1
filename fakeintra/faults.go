package fakeintra

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Endpoint names an endpoint that faults can be set on.
type Endpoint int

// The endpoints a client of the provider calls from its server.
const (
	Token Endpoint = iota + 1 // POST /oauth/token
	Me                        // GET /v2/me
)

var endpointNames = map[Endpoint]string{Token: "token", Me: "me"}

func (e Endpoint) String() string {
	if n, ok := endpointNames[e]; ok {
		return n
	}
	return "Endpoint(" + strconv.Itoa(int(e)) + ")"
}

// MarshalText gives the endpoint's name in the control endpoint's JSON.
func (e Endpoint) MarshalText() ([]byte, error) {
	n, ok := endpointNames[e]
	if !ok {
		return nil, fmt.Errorf("unknown endpoint %d", int(e))
	}
	return []byte(n), nil
}

// UnmarshalText reads "token" or "me".
func (e *Endpoint) UnmarshalText(b []byte) error {
	for k, n := range endpointNames {
		if n == string(b) {
			*e = k
			return nil
		}
	}
	return fmt.Errorf("unknown endpoint %q: want token or me", b)
}

// FaultKind is a way a call can fail.
type FaultKind int

// The fault kinds. Status, RateLimited and Hang act before the request is
// looked at; the others rewrite a successful answer and leave an error
// answer as it is.
const (
	None           FaultKind = iota // no fault: SetFault with None clears the endpoint's
	Status                          // answer Fault.Status with a proxy's HTML error page
	RateLimited                     // answer the provider's 429
	Hang                            // wait Fault.Delay, then answer as usual
	MalformedJSON                   // a 200 whose JSON body has a syntax error
	TruncatedJSON                   // a 200 whose JSON body stops halfway
	MeMissingID                     // a /v2/me document without "id" (Me only)
	MeMissingLogin                  // a /v2/me document without "login" (Me only)
)

var kindNames = []string{"none", "status", "rate_limited", "hang", "malformed_json", "truncated_json", "me_missing_id", "me_missing_login"}

func (k FaultKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "FaultKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText gives the kind's name in the control endpoint's JSON.
func (k FaultKind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(kindNames) {
		return nil, fmt.Errorf("unknown fault kind %d", int(k))
	}
	return []byte(kindNames[k]), nil
}

// UnmarshalText reads a kind's name, such as "rate_limited".
func (k *FaultKind) UnmarshalText(b []byte) error {
	for i, n := range kindNames {
		if n == string(b) {
			*k = FaultKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown fault kind %q", b)
}

// Sticky as a Fault's Count makes it fail every call until cleared.
const Sticky = -1

// Defaults of a Fault's fields.
const (
	DefaultFaultStatus = http.StatusInternalServerError
	DefaultHang        = time.Minute
)

// Fault makes calls of an endpoint fail.
type Fault struct {
	Kind FaultKind
	// Status is what a Status fault answers, 400 to 599;
	// DefaultFaultStatus when zero.
	Status int
	// Delay is how long a Hang fault holds the call before answering;
	// DefaultHang when zero. A hanging call also ends when its client
	// goes away, and is released by ClearFaults.
	Delay time.Duration
	// Count is how many calls fail: the next one when zero or one, the
	// next Count ones, or with Sticky every call until cleared.
	Count int
}

func (f Fault) normalized() Fault {
	if f.Kind == Status && f.Status == 0 {
		f.Status = DefaultFaultStatus
	}
	if f.Kind == Hang && f.Delay == 0 {
		f.Delay = DefaultHang
	}
	if f.Count == 0 {
		f.Count = 1
	}
	if f.Count < 0 {
		f.Count = Sticky
	}
	return f
}

func checkFault(e Endpoint, f Fault) error {
	if _, ok := endpointNames[e]; !ok {
		return fmt.Errorf("unknown endpoint %d", int(e))
	}
	switch {
	case f.Kind < None || f.Kind > MeMissingLogin:
		return fmt.Errorf("unknown fault kind %d", int(f.Kind))
	case (f.Kind == MeMissingID || f.Kind == MeMissingLogin) && e != Me:
		return fmt.Errorf("fault %s applies to the me endpoint only", f.Kind)
	case f.Kind == Status && f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("fault status %d: want 400 to 599", f.Status)
	case f.Delay < 0:
		return errors.New("negative fault delay")
	}
	return nil
}

// SetFault makes the next calls of endpoint fail as f says, replacing the
// endpoint's fault in force; a Fault of kind None clears it. It panics on
// a fault that cannot be: an unknown endpoint or kind, a Me-only kind on
// Token, a Status outside 400 to 599, a negative Delay.
func (s *Server) SetFault(endpoint Endpoint, f Fault) {
	if err := checkFault(endpoint, f); err != nil {
		panic("fakeintra: SetFault: " + err.Error())
	}
	s.setFault(endpoint, f)
}

func (s *Server) setFault(e Endpoint, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Kind == None {
		delete(s.faults, e)
		return
	}
	f = f.normalized()
	s.faults[e] = &f
}

// ClearFaults clears every fault and releases the calls that hang, which
// then answer as usual.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.faults)
	close(s.release)
	s.release = make(chan struct{})
}

// Faults returns the faults in force, their Count being what is left.
func (s *Server) Faults() map[Endpoint]Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Endpoint]Fault, len(s.faults))
	for e, f := range s.faults {
		out[e] = *f
	}
	return out
}

// takeFault returns the fault for this call of e, using up one of its
// count, and the channel that ClearFaults closes.
func (s *Server) takeFault(e Endpoint) (Fault, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.faults[e]
	if !ok {
		return Fault{}, s.release
	}
	taken := *f
	if f.Count > 0 {
		f.Count--
		if f.Count == 0 {
			delete(s.faults, e)
		}
	}
	return taken, s.release
}

// withFaults applies the endpoint's fault, if any, to a call of h.
func (s *Server) withFaults(e Endpoint, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, release := s.takeFault(e)
		switch f.Kind {
		case None:
			h(w, r)
		case Status:
			writeStatusPage(w, f.Status)
		case RateLimited:
			s.setRateHeaders(w, 0, s.perHour-s.perSecond)
			tooMany(w, time.Second)
		case Hang:
			t := time.NewTimer(f.Delay)
			defer t.Stop()
			select {
			case <-r.Context().Done():
				return
			case <-release:
			case <-t.C:
			}
			h(w, r)
		default:
			rec := &recorder{header: make(http.Header)}
			h(rec, r)
			body := rec.body.Bytes()
			if rec.status == http.StatusOK {
				body = corrupt(f.Kind, body)
			}
			for k, v := range rec.header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.status)
			w.Write(body)
		}
	})
}

// corrupt rewrites a successful JSON body as the fault says.
func corrupt(k FaultKind, body []byte) []byte {
	switch k {
	case MalformedJSON:
		// A trailing comma, as a broken serializer writes it.
		i := bytes.LastIndexByte(body, '}')
		if i < 0 {
			return append(body[:len(body):len(body)], '{')
		}
		return append(body[:i:i], ",}"...)
	case TruncatedJSON:
		return body[:len(body)/2]
	case MeMissingID:
		return withoutField(body, "id")
	case MeMissingLogin:
		return withoutField(body, "login")
	}
	return body
}

// writeStatusPage answers status with the HTML page of the proxy in front
// of the provider.
func writeStatusPage(w http.ResponseWriter, status int) {
	line := strconv.Itoa(status) + " " + http.StatusText(status)
	body := "<html>\r\n<head><title>" + line + "</title></head>\r\n<body>\r\n<center><h1>" + line +
		"</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
	w.Header().Set("Content-Type", "text/html")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// recorder keeps a handler's answer for a fault to rewrite.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// faultView is a fault in the control endpoint's JSON.
type faultView struct {
	Endpoint *Endpoint `json:"endpoint,omitempty"`
	Kind     FaultKind `json:"kind"`
	Status   int       `json:"status,omitempty"`
	Delay    string    `json:"delay,omitempty"`
	Count    int       `json:"count"`
}

type faultsView struct {
	Token *faultView `json:"token"`
	Me    *faultView `json:"me"`
}

func (s *Server) faultsView() faultsView {
	var v faultsView
	for e, f := range s.Faults() {
		fv := &faultView{Kind: f.Kind, Status: f.Status, Count: f.Count}
		if f.Kind == Hang {
			fv.Delay = f.Delay.String()
		}
		switch e {
		case Token:
			v.Token = fv
		case Me:
			v.Me = fv
		}
	}
	return v
}

func (s *Server) handleGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.faultsView())
}

func (s *Server) handleSetFault(w http.ResponseWriter, r *http.Request) {
	var req faultView
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		controlError(w, "the body is not a fault: "+err.Error())
		return
	}
	if req.Endpoint == nil {
		controlError(w, "endpoint is missing: want token or me")
		return
	}
	f := Fault{Kind: req.Kind, Status: req.Status, Count: req.Count}
	if req.Delay != "" {
		d, err := time.ParseDuration(req.Delay)
		if err != nil {
			controlError(w, "delay: "+err.Error())
			return
		}
		f.Delay = d
	}
	if err := checkFault(*req.Endpoint, f); err != nil {
		controlError(w, err.Error())
		return
	}
	s.setFault(*req.Endpoint, f)
	writeJSON(w, http.StatusOK, s.faultsView())
}

func (s *Server) handleClearFaults(w http.ResponseWriter, r *http.Request) {
	s.ClearFaults()
	w.WriteHeader(http.StatusNoContent)
}

func controlError(w http.ResponseWriter, description string) {
	writeJSON(w, http.StatusBadRequest, oauthError{Name: "invalid_request", Description: description})
}

// writeJSON answers status with v as JSON, as the provider does.
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}
