package testservice

import (
	"strings"
	"testing"
)

func TestNamedServerThatDoesNotAnswerIsAnError(t *testing.T) {
	t.Setenv(RedisVar, "redis://127.0.0.1:1/0")
	_, err := locate(RedisVar, nil, probeRedis, func() (string, error) { return "unused", nil })
	if err == nil || !strings.Contains(err.Error(), RedisVar) {
		t.Errorf("locate with a dead named server = %v, want an error naming %s", err, RedisVar)
	}
}

func TestNothingFoundMeansSkip(t *testing.T) {
	t.Setenv(RedisVar, "")
	u, err := locate(RedisVar, []string{"redis://127.0.0.1:1/0"}, probeRedis, func() (string, error) { return "", errTest })
	if u != "" || err != nil {
		t.Errorf("locate with nothing available = %q, %v; want empty and no error", u, err)
	}
}

func TestDockerIsTriedAfterLocal(t *testing.T) {
	t.Setenv(RedisVar, "")
	u, err := locate(RedisVar, []string{"redis://127.0.0.1:1/0"}, probeRedis, func() (string, error) { return "redis://container/0", nil })
	if u != "redis://container/0" || err != nil {
		t.Errorf("locate = %q, %v; want the container's URL", u, err)
	}
}

func TestUnreachableDaemonIsReportedAsSuch(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
	if _, err := pool(); err == nil {
		t.Error("pool() with no daemon = nil error")
	}
}

var errTest = errorString("no daemon")

type errorString string

func (e errorString) Error() string { return string(e) }
