package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// Response is an answer of a served App, read to the end.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v; a body that is not JSON fails the test.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("answer %d %s: %v", r.Status, r.Body, err)
	}
}

// ErrorCode is the code of a contract error body ({"error": {"code": ...}}), "" for any other body.
func (r Response) ErrorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request to url as a client of the API would and reads the answer. body nil sends none; a string
// or []byte is sent as it is and anything else as its JSON, either way as application/json. A non-empty token
// goes in "Authorization: Bearer". headers are further name/value pairs, set last (so they may replace the
// Content-Type: an avatar upload, a wrong type). A request that gets no answer fails the test.
func Do(t testing.TB, method, url, token string, body any, headers ...string) Response {
	t.Helper()
	var payload io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		payload = bytes.NewBufferString(b)
	case []byte:
		payload = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		payload = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, url, payload)
	if err != nil {
		t.Fatal(err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(headers)%2 != 0 {
		t.Fatalf("headers %q: want name/value pairs", headers)
	}
	for i := 0; i < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, url, err)
	}
	return Response{Status: res.StatusCode, Header: res.Header, Body: raw}
}
