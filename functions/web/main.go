// Command web serves the pages people use (the report form the QR codes
// open, the self-join page, the staff pages) and their assets, from the
// same HTTP API as the JSON routes, so the pages call their own origin.
// It reads no table and no key.
package main

import (
	"context"
	"net/http"

	"gridcode/shared/lambdaapp"
	"gridcode/shared/web"
)

func main() { lambdaapp.Main(realMain) }

func realMain(context.Context) error {
	lambdaapp.Logs()
	site, err := web.New()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	site.Register(mux)
	lambdaapp.ServeHTTP(mux)
	return nil
}
