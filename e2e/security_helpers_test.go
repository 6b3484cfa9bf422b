package e2e

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"strings"
	"sync"
	"testing"
)

// signingSeed is the Ed25519 seed the stack's auth service signs access tokens with (AUTH_SIGNING_KEYS).
var signingSeed []byte

func newSigningSeed() []byte {
	seed := make([]byte, ed25519.SeedSize)
	_, _ = rand.Read(seed)
	return seed
}

// kidOf is the RFC 7638 thumbprint of an Ed25519 public key, as auth names its keys.
func kidOf(pub ed25519.PublicKey) string {
	canon := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func b64json(v any) string {
	raw, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// signEdDSA makes a JWT signed with priv.
func signEdDSA(priv ed25519.PrivateKey, header, claims map[string]any) string {
	in := b64json(header) + "." + b64json(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, []byte(in)))
}

// signHS256 makes a JWT authenticated with HMAC-SHA256 under secret.
func signHS256(secret []byte, header, claims map[string]any) string {
	in := b64json(header) + "." + b64json(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// unsigned makes a JWT with no signature (alg none).
func unsigned(header, claims map[string]any) string {
	return b64json(header) + "." + b64json(claims) + "."
}

// jwtClaims decodes a JWT's payload without checking it.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// secrets are the passwords and tokens the security tests used; TestSecuritySecretsNeverInLogs looks for them.
var secrets struct {
	sync.Mutex
	list []string
}

func remember(values ...string) {
	secrets.Lock()
	defer secrets.Unlock()
	for _, v := range values {
		if v != "" {
			secrets.list = append(secrets.list, v)
		}
	}
}

// secGateways are the extra replicas (gateways and others) the security tests started (their logs are
// scanned too).
var secGateways struct {
	sync.Mutex
	names []string
}

func startSecGateway(t *testing.T, name string, extra ...string) string {
	t.Helper()
	return startSecReplica(t, name, "gateway", extra...)
}

// startSecReplica starts an extra replica of svc for the test, stopped when it ends.
func startSecReplica(t *testing.T, name, svc string, extra ...string) string {
	t.Helper()
	name = name + "-" + suffix()
	url, err := stack.StartReplica(name, svc, extra...)
	if err != nil {
		t.Fatal(err)
	}
	secGateways.Lock()
	secGateways.names = append(secGateways.names, name)
	secGateways.Unlock()
	t.Cleanup(func() { stack.StopProcess(name) })
	return url
}

// secUser registers a user and remembers its secrets.
func secUser(t *testing.T, prefix string) *account {
	t.Helper()
	a := register(t, prefix)
	remember(a.password, a.access, a.refresh)
	return a
}

func secSession(t *testing.T, a *account) *account {
	t.Helper()
	b := a.another(t)
	remember(b.access, b.refresh)
	return b
}

// pngChunk encodes one PNG chunk.
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func pngIHDR(w, h uint32, depth, colorType byte) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	return pngChunk("IHDR", ihdr)
}

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// pixelFloodPNG is a PNG whose header claims w×h pixels and carries almost no data.
func pixelFloodPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(pngSignature)
	b.Write(pngIHDR(w, h, 8, 6))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 64))
	_ = zw.Close()
	b.Write(pngChunk("IDAT", z.Bytes()))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// bombPNG is a complete, valid 1-bit greyscale PNG of w×h black pixels: a few tens of KiB that decode to
// w×h pixels (w×h×4 bytes as RGBA).
func bombPNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.Write(pngSignature)
	b.Write(pngIHDR(w, h, 1, 0))
	var z bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&z, zlib.BestCompression)
	row := make([]byte, 1+(w+7)/8)
	for i := uint32(0); i < h; i++ {
		_, _ = zw.Write(row)
	}
	_ = zw.Close()
	b.Write(pngChunk("IDAT", z.Bytes()))
	b.Write(pngChunk("IEND", nil))
	return b.Bytes()
}

// tinyGIF is a valid 1×1 GIF.
func tinyGIF() []byte {
	img := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.Black, color.White})
	var b bytes.Buffer
	_ = gif.Encode(&b, img, nil)
	return b.Bytes()
}

// bombGIF is a valid GIF whose logical screen is w×h while its one frame is 1×1.
func bombGIF(w, h uint16) []byte {
	g := tinyGIF()
	binary.LittleEndian.PutUint16(g[6:], w)
	binary.LittleEndian.PutUint16(g[8:], h)
	return g
}
