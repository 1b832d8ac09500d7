package qrread

import (
	"testing"

	"gridcode/shared/qr"
)

// What qr.PNG encodes reads back; an image without a code does not.
func TestText(t *testing.T) {
	t.Parallel()
	const link = "https://api.example.cn/prod/r/440703006107-01"
	b, err := qr.PNG(link, 512)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Text(b); err != nil || got != link {
		t.Errorf("Text = %q, %v; want %q", got, err, link)
	}
	if _, err := Text([]byte("not a png")); err == nil {
		t.Error("Text read something out of a non-PNG")
	}
}
