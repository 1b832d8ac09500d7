package qr

import (
	"bytes"
	"errors"
	"image/png"
	"strings"
	"testing"
)

func TestPNGSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{64, 256, 300, 1024} {
		b, err := PNG("https://gridcode.example.cn/g/GABCD2345", size)
		if err != nil {
			t.Fatalf("PNG(size %d): %v", size, err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("size %d: no PNG signature", size)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("size %d: decode: %v", size, err)
		}
		if got := img.Bounds(); got.Dx() != size || got.Dy() != size {
			t.Errorf("size %d: image is %v", size, got)
		}
		// The quiet zone is white; some module is black.
		if r, g, bl, _ := img.At(0, 0).RGBA(); r != 0xffff || g != 0xffff || bl != 0xffff {
			t.Errorf("size %d: corner is not white", size)
		}
		dark := false
		for y := 0; y < size && !dark; y++ {
			for x := 0; x < size; x++ {
				if r, _, _, _ := img.At(x, y).RGBA(); r == 0 {
					dark = true
					break
				}
			}
		}
		if !dark {
			t.Errorf("size %d: no dark module", size)
		}
	}
}

func TestPNGChinese(t *testing.T) {
	t.Parallel()
	b, err := PNG("团体码 G7KQ2M4XA 𠮷野家", 200)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
}

func TestPNGRefuses(t *testing.T) {
	t.Parallel()
	if _, err := PNG("", 256); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty content: err = %v", err)
	}
	for _, size := range []int{0, -4, MaxSize + 1} {
		if _, err := PNG("x", size); err == nil {
			t.Errorf("size %d accepted", size)
		}
	}
	// Too small for the symbol: go-qrcode would silently draw it larger.
	if _, err := PNG(strings.Repeat("https://gridcode.example.cn/", 20), 40); err == nil {
		t.Error("size below module count accepted")
	}
	// More than a QR code can hold.
	if _, err := PNG(strings.Repeat("x", 5000), 512); err == nil {
		t.Error("oversized content accepted")
	}
}
