package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"mime"

	"simplemessenger/platform/contract"
	"simplemessenger/platform/rules"
)

// AvatarMaxDimension is the largest width or height of an avatar (its largest size is the contract's:
// contract.AvatarMaxBytes).
const AvatarMaxDimension = 4096

// Avatar is a checked avatar image.
type Avatar struct {
	ContentType string
	Data        []byte
	// ETag is a strong validator: a hash of the bytes, quoted as HTTP wants it.
	ETag string
}

// ErrUnsupportedMediaType: the declared Content-Type is not one of the avatar types.
var ErrUnsupportedMediaType = rules.New("unsupported_media_type", "an avatar must be image/png, image/jpeg or image/gif")

func unsupportedImage(msg string) error {
	return rules.New("unsupported_image", msg)
}

// avatarFormats maps the accepted media types to the image package's format names.
var avatarFormats = map[string]struct {
	format string
	decode func([]byte) (image.Image, error)
}{
	"image/png":  {"png", func(b []byte) (image.Image, error) { return png.Decode(bytes.NewReader(b)) }},
	"image/jpeg": {"jpeg", func(b []byte) (image.Image, error) { return jpeg.Decode(bytes.NewReader(b)) }},
	"image/gif":  {"gif", func(b []byte) (image.Image, error) { return gif.Decode(bytes.NewReader(b)) }},
}

// AvatarMediaType returns the canonical media type of a declared Content-Type, or ErrUnsupportedMediaType.
func AvatarMediaType(contentType string) (string, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", ErrUnsupportedMediaType
	}
	if _, ok := avatarFormats[mt]; !ok {
		return "", ErrUnsupportedMediaType
	}
	return mt, nil
}

// NewAvatar checks that data is a real image of the declared type, at most 4096×4096 px. The header is read first
// (cheap), so oversized or mislabelled images are refused before anything large is allocated; only then is the
// image decoded fully, which proves the rest of the file is an image too. The full decode allocates up to
// width×height×8 bytes; callers bound how many run at once.
func NewAvatar(contentType string, data []byte) (Avatar, error) {
	mt, err := AvatarMediaType(contentType)
	if err != nil {
		return Avatar{}, err
	}
	if len(data) > contract.AvatarMaxBytes {
		return Avatar{}, unsupportedImage("an avatar must be at most 1 MiB")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return Avatar{}, unsupportedImage("the body is not a PNG, JPEG or GIF image")
	}
	want := avatarFormats[mt]
	if format != want.format {
		return Avatar{}, unsupportedImage("the image is " + format + ", not " + mt)
	}
	if cfg.Width < 1 || cfg.Height < 1 || cfg.Width > AvatarMaxDimension || cfg.Height > AvatarMaxDimension {
		return Avatar{}, unsupportedImage("an avatar must be at most 4096×4096 pixels")
	}
	img, err := want.decode(data)
	if err != nil {
		return Avatar{}, unsupportedImage("the image could not be decoded")
	}
	if b := img.Bounds(); b.Dx() > AvatarMaxDimension || b.Dy() > AvatarMaxDimension {
		return Avatar{}, unsupportedImage("an avatar must be at most 4096×4096 pixels")
	}
	sum := sha256.Sum256(data)
	return Avatar{ContentType: mt, Data: data, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}, nil
}
