package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
)

// BindJSON decodes the request body into v. It answers the client itself and returns false when the body is
// too large (413), not JSON (415 for another declared content type, 400 invalid_json for malformed JSON),
// or has a field of the wrong type (400 invalid_field).
func BindJSON(c *gin.Context, v any) bool {
	return jsonContentType(c) && decodeJSON(c, c.Request.Body, v)
}

// BindUTF8JSON is BindJSON that also refuses (400 invalid_json) a body that is not valid UTF-8. Use it where
// strings are stored as sent (names, message texts): encoding/json would silently turn each invalid byte
// into U+FFFD and keep a text nobody wrote.
func BindUTF8JSON(c *gin.Context, v any) bool {
	if !jsonContentType(c) {
		return false
	}
	body, ok := ReadBody(c)
	if !ok {
		return false
	}
	if !utf8.Valid(body) {
		apierr.Write(c, apierr.BadRequest("invalid_json", "the request body is not valid UTF-8"))
		return false
	}
	return decodeJSON(c, bytes.NewReader(body), v)
}

// jsonContentType answers 415 (and returns false) when the request declares a type other than JSON; no
// declared type is taken as JSON.
func jsonContentType(c *gin.Context) bool {
	ct := c.GetHeader("Content-Type")
	if ct == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && mt != "text/json") {
		apierr.Write(c, apierr.New(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json"))
		return false
	}
	return true
}

func decodeJSON(c *gin.Context, body io.Reader, v any) bool {
	dec := json.NewDecoder(body)
	err := dec.Decode(v)
	if err == nil {
		// Trailing garbage after the document is malformed JSON too.
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("data after the JSON document")
		}
	}
	if err == nil {
		return true
	}
	apierr.Write(c, jsonError(err))
	return false
}

func jsonError(err error) *apierr.Error {
	var maxErr *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &maxErr):
		return TooLarge(maxErr.Limit)
	case errors.Is(err, io.EOF):
		return apierr.BadRequest("invalid_json", "the request body is empty; a JSON object is expected")
	case errors.As(err, &typeErr):
		return apierr.BadRequest("invalid_field", fmt.Sprintf("field %q must be %s", typeErr.Field, typeErr.Type.String()))
	default:
		return apierr.BadRequest("invalid_json", "the request body is not valid JSON: "+err.Error())
	}
}

// ReadBody reads the whole (already size-limited) body; on error it answers 413 or 400 and returns false.
func ReadBody(c *gin.Context) ([]byte, bool) {
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			apierr.Write(c, TooLarge(maxErr.Limit))
		} else {
			apierr.Write(c, apierr.BadRequest("invalid_body", "could not read the request body"))
		}
		return nil, false
	}
	return b, true
}
