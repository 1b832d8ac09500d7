// Package qr draws the QR codes printed for group codes and report links.
package qr

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	qrcode "github.com/skip2/go-qrcode"
)

// MaxSize is the largest image PNG draws, in pixels per side, so one
// request cannot allocate a huge image.
const MaxSize = 4096

// ErrEmpty means there is nothing to encode.
var ErrEmpty = errors.New("qr: empty content")

// PNG encodes content as a QR code at the Medium recovery level (about 15%
// of the symbol may be damaged, enough for a printed poster with a fold or
// a smudge) and draws it as a size×size pixel PNG, quiet zone included.
//
// The image has exactly the requested size or PNG fails: it refuses a size
// smaller than the symbol's module count (which grows with the content) and
// a size above MaxSize. Modules are crispest when size is a multiple of the
// module count.
func PNG(content string, size int) ([]byte, error) {
	if content == "" {
		return nil, ErrEmpty
	}
	if size <= 0 || size > MaxSize {
		return nil, fmt.Errorf("qr: size %d outside 1–%d", size, MaxSize)
	}
	q, err := qrcode.New(content, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("qr: %w", err)
	}
	if modules := len(q.Bitmap()); size < modules {
		return nil, fmt.Errorf("qr: size %d below the %d modules the content needs", size, modules)
	}
	return q.PNG(size)
}

// ReportLink is what a report QR code encodes: reportURL (the report
// form's address, ".../r") for the district code, or reportURL/<gridCode>
// for one grid's code.
func ReportLink(reportURL, gridCode string) string {
	reportURL = strings.TrimRight(reportURL, "/")
	if gridCode == "" {
		return reportURL
	}
	return reportURL + "/" + url.PathEscape(gridCode)
}
