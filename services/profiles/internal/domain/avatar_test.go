package domain_test

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"

	"simplemessenger/platform/contract"

	"simplemessenger/services/profiles/internal/domain"
)

func testImage(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := 0; x < w && x < 64; x++ {
		img.Set(x, 0, color.RGBA{uint8(x * 4), 100, 200, 255})
	}
	return img
}

func pngBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage(w, h)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifBytes(t testing.TB, w, h int) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withPNGSize rewrites a PNG's IHDR to claim another size (with a valid CRC): a decompression-bomb header.
func withPNGSize(t testing.TB, p []byte, w, h uint32) []byte {
	out := bytes.Clone(p)
	// 8-byte signature, 4-byte length, "IHDR", then width and height.
	if string(out[12:16]) != "IHDR" {
		t.Fatal("not a PNG")
	}
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func TestAvatarAcceptsRealImagesOfTheDeclaredType(t *testing.T) {
	cases := []struct {
		ct, want string
		data     []byte
	}{
		{"image/png", "image/png", pngBytes(t, 64, 48)},
		{"image/jpeg", "image/jpeg", jpegBytes(t, 64, 48)},
		{"image/gif", "image/gif", gifBytes(t, 64, 48)},
		{"IMAGE/PNG; charset=binary", "image/png", pngBytes(t, 2, 2)},
		{"image/png", "image/png", pngBytes(t, domain.AvatarMaxDimension, 1)},
		{"image/gif", "image/gif", gifBytes(t, 1, domain.AvatarMaxDimension)},
	}
	for _, c := range cases {
		a, err := domain.NewAvatar(c.ct, c.data)
		if err != nil {
			t.Errorf("%s: %v", c.ct, err)
			continue
		}
		if a.ContentType != c.want {
			t.Errorf("%s: stored as %s", c.ct, a.ContentType)
		}
		if !bytes.Equal(a.Data, c.data) {
			t.Errorf("%s: bytes changed", c.ct)
		}
		if len(a.ETag) < 10 || a.ETag[0] != '"' || a.ETag[len(a.ETag)-1] != '"' {
			t.Errorf("%s: ETag %s is not a quoted strong validator", c.ct, a.ETag)
		}
	}
}

func TestAvatarETagIsAHashOfTheBytes(t *testing.T) {
	p1, p2 := pngBytes(t, 3, 3), pngBytes(t, 4, 4)
	a1, _ := domain.NewAvatar("image/png", p1)
	a1again, _ := domain.NewAvatar("image/png", bytes.Clone(p1))
	a2, _ := domain.NewAvatar("image/png", p2)
	if a1.ETag != a1again.ETag || a1.ETag == a2.ETag {
		t.Errorf("ETags %s %s %s", a1.ETag, a1again.ETag, a2.ETag)
	}
}

func TestAvatarRefusals(t *testing.T) {
	p := pngBytes(t, 16, 16)
	cases := []struct {
		name, ct string
		data     []byte
		code     string
	}{
		{"declared type not an image type", "text/plain", p, "unsupported_media_type"},
		{"webp is not accepted", "image/webp", p, "unsupported_media_type"},
		{"malformed content type", "image/", p, "unsupported_media_type"},
		{"no content type", "", p, "unsupported_media_type"},
		{"png declared as jpeg", "image/jpeg", p, "unsupported_image"},
		{"gif declared as png", "image/png", gifBytes(t, 8, 8), "unsupported_image"},
		{"jpeg declared as gif", "image/gif", jpegBytes(t, 8, 8), "unsupported_image"},
		{"garbage", "image/png", []byte("this is not an image at all"), "unsupported_image"},
		{"empty", "image/png", nil, "unsupported_image"},
		{"too wide", "image/png", pngBytes(t, domain.AvatarMaxDimension+1, 1), "unsupported_image"},
		{"too tall", "image/jpeg", jpegBytes(t, 1, domain.AvatarMaxDimension+1), "unsupported_image"},
		// The header claims 20000×20000: refused from the header alone, before a 1.6 GB image is allocated.
		{"bomb header", "image/png", withPNGSize(t, p, 20000, 20000), "unsupported_image"},
		// A plausible header with broken data: only the full decode catches it.
		{"truncated", "image/png", p[:len(p)-20], "unsupported_image"},
		{"corrupt header crc", "image/png", func() []byte { b := bytes.Clone(p); b[20] ^= 0xff; return b }(), "unsupported_image"},
		{"over a megabyte", "image/png", append(bytes.Clone(p), make([]byte, contract.AvatarMaxBytes)...), "unsupported_image"},
	}
	for _, c := range cases {
		if _, err := domain.NewAvatar(c.ct, c.data); code(err) != c.code {
			t.Errorf("%s: want %s, got %v", c.name, c.code, err)
		}
	}
}
