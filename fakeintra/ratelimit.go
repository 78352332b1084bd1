package fakeintra

import (
	"io"
	"net/http"
	"strconv"
	"time"
)

// tooManyBody is the real provider's 429 body, as plain text.
const tooManyBody = "429 Too Many Requests (Spam Rate Limit Exceeded)"

// usage counts one application's requests in the current second and hour.
type usage struct {
	second, hour     time.Time
	inSecond, inHour int
}

// allow counts a request of the application clientID against its limits
// and sets the rate-limit headers. Over a limit it answers 429 itself and
// returns false. With rate limiting off it does nothing.
func (s *Server) allow(w http.ResponseWriter, clientID string) bool {
	if !s.rateLimit {
		return true
	}
	now := s.now()
	sec, hour := now.Truncate(time.Second), now.Truncate(time.Hour)
	s.mu.Lock()
	u := s.usage[clientID]
	if u == nil {
		u = &usage{}
		s.usage[clientID] = u
	}
	if !u.second.Equal(sec) {
		u.second, u.inSecond = sec, 0
	}
	if !u.hour.Equal(hour) {
		u.hour, u.inHour = hour, 0
	}
	ok := u.inSecond < s.perSecond && u.inHour < s.perHour
	if ok {
		u.inSecond++
		u.inHour++
	}
	secondLeft, hourLeft := s.perSecond-u.inSecond, s.perHour-u.inHour
	s.mu.Unlock()

	s.setRateHeaders(w, secondLeft, hourLeft)
	if ok {
		return true
	}
	wait := sec.Add(time.Second).Sub(now)
	if hourLeft <= 0 {
		wait = hour.Add(time.Hour).Sub(now)
	}
	tooMany(w, wait)
	return false
}

func (s *Server) setRateHeaders(w http.ResponseWriter, secondLeft, hourLeft int) {
	h := w.Header()
	h.Set("X-Secondly-RateLimit-Limit", strconv.Itoa(s.perSecond))
	h.Set("X-Secondly-RateLimit-Remaining", strconv.Itoa(max(secondLeft, 0)))
	h.Set("X-Hourly-RateLimit-Limit", strconv.Itoa(s.perHour))
	h.Set("X-Hourly-RateLimit-Remaining", strconv.Itoa(max(hourLeft, 0)))
}

// tooMany writes the provider's 429, asking to wait at least one second.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	secs := int64((wait + time.Second - 1) / time.Second)
	h := w.Header()
	h.Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	h.Set("Content-Type", "text/plain")
	h.Set("Content-Length", strconv.Itoa(len(tooManyBody)))
	w.WriteHeader(http.StatusTooManyRequests)
	io.WriteString(w, tooManyBody)
}
