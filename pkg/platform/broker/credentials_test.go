package broker_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
)

// AMQP_USERNAME and AMQP_PASSWORD replace the user and password of AMQP_URL, each on its own, escaped so that the
// AMQP client reads them back exactly; without them the URL is used as it is.
func TestDialURLPutsTheCredentialsIntoTheURL(t *testing.T) {
	t.Parallel()
	const awkward = "p@ss:w/rd?#%+ é"
	for _, tc := range []struct {
		url, user, password       string
		wantUser, wantPass, vhost string
	}{
		{"amqp://guest:guest@127.0.0.1:5672/", "", "", "guest", "guest", "/"},
		{"amqp://10.201.0.1:5672/messenger", "messenger", awkward, "messenger", awkward, "messenger"},
		{"amqp://old:old@10.201.0.1:5672/messenger", "new", "secret", "new", "secret", "messenger"},
		{"amqp://keep:old@rabbit:5672/%2F", "", "fresh", "keep", "fresh", "/"},
		{"amqps://rabbit/v", "u:ser@x", "", "u:ser@x", "", "v"},
	} {
		cfg := broker.Config{URL: tc.url, Username: tc.user, Password: tc.password}
		got, err := cfg.DialURL()
		if err != nil {
			t.Errorf("%+v: %v", tc, err)
			continue
		}
		if tc.user == "" && tc.password == "" && got != tc.url {
			t.Errorf("without credentials the URL changed: %q -> %q", tc.url, got)
		}
		uri, err := amqp.ParseURI(got)
		if err != nil {
			t.Errorf("%q: the AMQP client cannot parse it: %v", got, err)
			continue
		}
		if uri.Username != tc.wantUser || uri.Password != tc.wantPass || uri.Vhost != tc.vhost {
			t.Errorf("%+v: the client reads user %q password %q vhost %q", tc, uri.Username, uri.Password, uri.Vhost)
		}
	}
	for _, tc := range []struct{ url, user, password, want string }{
		{"127.0.0.1:5672", "u", "p", "AMQP_URL is not an amqp:// or amqps:// URL"},
		{"http://rabbit:5672/", "u", "p", "AMQP_URL is not an amqp:// or amqps:// URL"},
		{"amqp://rabbit:5672/", "", "p", "AMQP_PASSWORD is set without a user"},
	} {
		_, err := broker.Config{URL: tc.url, Username: tc.user, Password: tc.password}.DialURL()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "p@") {
			t.Errorf("%+v: error %v, want one with %q", tc, err, tc.want)
		}
	}
}

// The credentials given apart from the URL are the ones the broker sees: right ones connect, a wrong password is
// refused.
func TestCredentialsApartFromTheURLReachTheBroker(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	u, err := url.Parse(cfg.URL)
	if err != nil || u.User == nil {
		t.Skipf("AMQP_URL %q holds no credentials to move out of it", u.Redacted())
	}
	user := u.User.Username()
	password, _ := u.User.Password()
	u.User = nil
	cfg.URL, cfg.Username, cfg.Password = u.String(), user, password

	conn := broker.Dial(cfg, nil, nil)
	defer conn.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	if err := conn.WaitReady(ctx); err != nil {
		t.Fatalf("with AMQP_USERNAME/AMQP_PASSWORD: %v", err)
	}

	cfg.Password = password + "-wrong"
	bad := broker.Dial(cfg, nil, nil)
	defer bad.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := bad.Ready(t.Context())
		if err != nil && strings.Contains(err.Error(), "403") {
			break // ACCESS_REFUSED
		}
		if err == nil || time.Now().After(deadline) {
			t.Fatalf("with a wrong AMQP_PASSWORD: %v, want a refused login", err)
		}
		if errors.Is(err, broker.ErrClosed) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
