// Package testservice finds the PostgreSQL and Redis servers that tests
// run against. In order: the server named by AUTHD_TEST_POSTGRES_URL or
// AUTHD_TEST_REDIS_URL (which must answer); a server on its usual local
// port; a throwaway container started with dockertest when a Docker daemon
// answers. With none of these a test skips and says how to run it, except
// under CI (CI set), where it fails: there the services are promised.
//
// Only tests import this package.
package testservice

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/ory/dockertest/v3"
	"github.com/ory/dockertest/v3/docker"
	"github.com/redis/go-redis/v9"
)

// Variables naming the servers.
const (
	PostgresVar = "AUTHD_TEST_POSTGRES_URL"
	RedisVar    = "AUTHD_TEST_REDIS_URL"
)

var localPostgres = []string{
	"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
	"postgres://root@127.0.0.1:5432/postgres?sslmode=disable",
}

const localRedis = "redis://127.0.0.1:6379/0"

// containerLife bounds a throwaway container's life: Docker removes it
// then even if the test process dies without cleaning up.
const containerLife = 15 * time.Minute

type found struct {
	once sync.Once
	url  string
	err  error // a named server that does not answer
}

var pg, rd found

// PostgresURL returns the URL of a PostgreSQL role that may create
// databases, or skips (fails under CI) when there is none.
func PostgresURL(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() {
		pg.url, pg.err = locate(PostgresVar, localPostgres, probePostgres, startPostgres)
	})
	return use(t, &pg, "PostgreSQL", PostgresVar, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
}

// RedisURL returns the URL of a Redis server tests may write keys to
// (under a prefix of their own), or skips (fails under CI).
func RedisURL(t testing.TB) string {
	t.Helper()
	rd.once.Do(func() {
		rd.url, rd.err = locate(RedisVar, []string{localRedis}, probeRedis, startRedis)
	})
	return use(t, &rd, "Redis", RedisVar, localRedis)
}

func use(t testing.TB, f *found, what, variable, example string) string {
	t.Helper()
	if f.err != nil {
		t.Fatal(f.err)
	}
	if f.url == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("no %s server under CI: set %s", what, variable)
		}
		t.Skipf("no %s server: set %s (e.g. %s), run one locally, or start Docker so a container can be used", what, variable, example)
	}
	return f.url
}

func locate(variable string, local []string, probe func(string) error, start func() (string, error)) (string, error) {
	if u := os.Getenv(variable); u != "" {
		if err := probe(u); err != nil {
			return "", fmt.Errorf("%s is set but its server does not answer: %v", variable, err)
		}
		return u, nil
	}
	for _, u := range local {
		if probe(u) == nil {
			return u, nil
		}
	}
	u, err := start()
	if err != nil {
		return "", nil // no daemon either: the caller skips
	}
	return u, nil
}

func probePostgres(u string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

func probeRedis(u string) error {
	opts, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// pool returns a dockertest pool whose daemon answers.
func pool() (*dockertest.Pool, error) {
	p, err := dockertest.NewPool("")
	if err != nil {
		return nil, err
	}
	if err := p.Client.Ping(); err != nil {
		return nil, err
	}
	p.MaxWait = 90 * time.Second
	return p, nil
}

func run(p *dockertest.Pool, repo, tag string, env []string) (*dockertest.Resource, error) {
	r, err := p.RunWithOptions(&dockertest.RunOptions{Repository: repo, Tag: tag, Env: env},
		func(hc *docker.HostConfig) {
			hc.AutoRemove = true
			hc.RestartPolicy = docker.RestartPolicy{Name: "no"}
		})
	if err != nil {
		return nil, err
	}
	if err := r.Expire(uint(containerLife / time.Second)); err != nil {
		p.Purge(r)
		return nil, err
	}
	return r, nil
}

func startPostgres() (string, error) {
	p, err := pool()
	if err != nil {
		return "", err
	}
	r, err := run(p, "postgres", "16-alpine", []string{"POSTGRES_HOST_AUTH_METHOD=trust"})
	if err != nil {
		return "", err
	}
	u := (&url.URL{Scheme: "postgres", User: url.User("postgres"), Host: r.GetHostPort("5432/tcp"), Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	if err := p.Retry(func() error { return probePostgres(u) }); err != nil {
		p.Purge(r)
		return "", err
	}
	return u, nil
}

func startRedis() (string, error) {
	p, err := pool()
	if err != nil {
		return "", err
	}
	r, err := run(p, "redis", "7-alpine", nil)
	if err != nil {
		return "", err
	}
	u := "redis://" + r.GetHostPort("6379/tcp") + "/0"
	if err := p.Retry(func() error { return probeRedis(u) }); err != nil {
		p.Purge(r)
		return "", err
	}
	return u, nil
}
