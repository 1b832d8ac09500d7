// Package qrread reads a QR code back from a PNG, as a phone's camera
// would, so tests check what a printed code opens rather than its bytes.
package qrread

import (
	"bytes"
	"fmt"
	"image/png"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Text is what the QR code in a PNG says.
func Text(b []byte) (string, error) {
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return "", fmt.Errorf("qrread: not a PNG: %w", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qrread: %w", err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		return "", fmt.Errorf("qrread: no QR code read: %w", err)
	}
	return res.GetText(), nil
}
