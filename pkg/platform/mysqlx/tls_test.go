package mysqlx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
)

func TestPrepareTLSRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca, _ := newCA(t, "test CA")
	caFile := writePEM(t, ca)
	for _, tc := range []struct {
		tls, ca string
		want    string // in the error; "" = no error
	}{
		{"", "", ""},
		{"false", "", ""},
		{"true", "", ""},
		{"TRUE", "", ""},
		{"skip-verify", "", ""},
		{"preferred", "", ""},
		{"true", caFile, ""},
		{"yes", "", `MYSQL_TLS: "yes" is none of false, true, skip-verify, preferred`},
		{"false", caFile, "MYSQL_TLS_CA is set, so MYSQL_TLS must be true"},
		{"skip-verify", caFile, "MYSQL_TLS_CA is set, so MYSQL_TLS must be true"},
		{"true", filepath.Join(dir, "missing.pem"), "MYSQL_TLS_CA: open "},
		{"true", notPEM, "MYSQL_TLS_CA: " + notPEM + " holds no PEM certificate"},
	} {
		cfg := mysqlx.Defaults("test")
		cfg.TLS, cfg.TLSCA = tc.tls, tc.ca
		err := cfg.PrepareTLS()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("MYSQL_TLS=%q MYSQL_TLS_CA=%q: %v", tc.tls, tc.ca, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("MYSQL_TLS=%q MYSQL_TLS_CA=%q: error %v, want one with %q", tc.tls, tc.ca, err, tc.want)
		}
	}
	// Open refuses before dialling anything, naming the variable.
	cfg := mysqlx.Defaults("test")
	cfg.TLS = "always"
	if _, err := mysqlx.Open(t.Context(), cfg, nil); err == nil || !strings.Contains(err.Error(), "MYSQL_TLS") {
		t.Errorf("Open with MYSQL_TLS=always: %v", err)
	}
	if err := mysqlx.Migrate(cfg, nil); err == nil || !strings.Contains(err.Error(), "MYSQL_TLS") {
		t.Errorf("Migrate with MYSQL_TLS=always: %v", err)
	}
}

// Every mode against a server that speaks just enough of the MySQL protocol to offer TLS (or not), upgrade the
// connection, and then refuse the login with a message saying how the client came in: the client's own
// verification of the server is what differs between the modes.
func TestTLSModesAgainstAServer(t *testing.T) {
	t.Parallel()
	ca, caKey := newCA(t, "messenger test CA")
	other, _ := newCA(t, "some other CA")
	caFile, otherFile := writePEM(t, ca), writePEM(t, other)
	forLoopback := fakeMySQL(t, serverCert(t, ca, caKey, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)} }))
	forAnotherName := fakeMySQL(t, serverCert(t, ca, caKey, func(c *x509.Certificate) { c.DNSNames = []string{"mysql.example"} }))
	noTLS := fakeMySQL(t, nil)

	const overTLS, plain = "fake server: over TLS", "fake server: in plain text"
	for _, tc := range []struct {
		name, addr, tls, ca string
		want                string // the fake server's message, or a part of the client's error
	}{
		{"true with the server's CA", forLoopback, "true", caFile, overTLS},
		{"true with another CA", forLoopback, "true", otherFile, "certificate signed by unknown authority"},
		{"true with the CA, but a certificate for another name", forAnotherName, "true", caFile, "cannot validate certificate for 127.0.0.1"},
		{"true with the system's CAs", forLoopback, "true", "", "certificate signed by unknown authority"},
		{"true, server without TLS", noTLS, "true", caFile, mysql.ErrNoTLS.Error()},
		{"skip-verify", forAnotherName, "skip-verify", "", overTLS},
		{"preferred, server with TLS", forAnotherName, "preferred", "", overTLS},
		{"preferred, server without TLS", noTLS, "preferred", "", plain},
		{"false", forLoopback, "false", "", plain},
		{"unset", forLoopback, "", "", plain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mysqlx.Defaults("test")
			cfg.Addr, cfg.TLS, cfg.TLSCA = tc.addr, tc.tls, tc.ca
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := mysqlx.Open(ctx, cfg, nil)
			if err == nil {
				db.Close()
				t.Fatal("connected to a server that refuses every login")
			}
			var me *mysql.MySQLError
			if tc.want == overTLS || tc.want == plain {
				if !errors.As(err, &me) || me.Message != tc.want {
					t.Fatalf("got %v, want the server's answer %q", err, tc.want)
				}
			} else if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// preferred against the real server: TLS if it offers it, plain otherwise; migrations and queries work either way.
func TestPreferredTLSOnTheRealServer(t *testing.T) {
	t.Parallel()
	cfg := mysqltest.NewDatabase(t)
	cfg.TLS = "preferred"
	if err := mysqlx.Migrate(cfg, nil); err != nil {
		t.Fatal(err)
	}
	db, err := mysqlx.Open(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM outbox").Scan(&n); err != nil || n != 0 {
		t.Fatalf("outbox: %d, %v", n, err)
	}
}

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func serverCert(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, names func(*x509.Certificate)) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mysql"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	names(tpl)
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeMySQL listens on loopback and, for each connection, sends a protocol 10 handshake (offering TLS when cert
// is not nil), upgrades to TLS when the client asks, reads the client's login and refuses it with error 1045 and
// a message saying whether it came over TLS. It returns the address.
func fakeMySQL(t *testing.T, cert *tls.Certificate) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFake(c, cert)
		}
	}()
	return ln.Addr().String()
}

// Capability flags of the MySQL protocol.
const (
	capLongPassword = 1 << 0 // clientMySQL in the driver: set, so there are no MariaDB extended capabilities
	capProtocol41   = 1 << 9
	capSSL          = 1 << 11
	capSecureConn   = 1 << 15
	capPluginAuth   = 1 << 19
)

func serveFake(c net.Conn, cert *tls.Certificate) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	caps := uint32(capLongPassword | capProtocol41 | capSecureConn | capPluginAuth)
	if cert != nil {
		caps |= capSSL
	}
	p := []byte{10}
	p = append(p, "5.5.5-10.11.0-MariaDB-fake\x00"...)
	p = binary.LittleEndian.AppendUint32(p, 1) // connection id
	p = append(p, "abcdefgh"...)               // scramble, first 8 bytes
	p = append(p, 0)
	p = binary.LittleEndian.AppendUint16(p, uint16(caps))
	p = append(p, 45)                          // utf8mb4
	p = binary.LittleEndian.AppendUint16(p, 2) // status: autocommit
	p = binary.LittleEndian.AppendUint16(p, uint16(caps>>16))
	p = append(p, 21)                    // scramble length
	p = append(p, make([]byte, 10)...)   // reserved
	p = append(p, "ijklmnopqrst\x00"...) // scramble, last 12 bytes
	p = append(p, "mysql_native_password\x00"...)
	if writePacket(c, 0, p) != nil {
		return
	}
	var conn io.ReadWriter = c
	seq, req, err := readPacket(conn)
	if err != nil {
		return
	}
	how := "fake server: in plain text"
	// An SSL request is the 32 bytes of capabilities, packet size, charset and filler, with CLIENT_SSL.
	if len(req) == 32 && binary.LittleEndian.Uint32(req)&capSSL != 0 && cert != nil {
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}})
		if tc.Handshake() != nil {
			return // the client refused the certificate
		}
		conn, how = tc, "fake server: over TLS"
		if seq, _, err = readPacket(conn); err != nil {
			return
		}
	}
	e := []byte{0xff}
	e = binary.LittleEndian.AppendUint16(e, 1045)
	e = append(e, "#28000"...)
	e = append(e, how...)
	_ = writePacket(conn, seq+1, e)
}

func writePacket(w io.Writer, seq byte, payload []byte) error {
	h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := w.Write(append(h, payload...))
	return err
}

func readPacket(r io.Reader) (seq byte, payload []byte, err error) {
	var h [4]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	payload = make([]byte, int(h[0])|int(h[1])<<8|int(h[2])<<16)
	_, err = io.ReadFull(r, payload)
	return h[3], payload, err
}
