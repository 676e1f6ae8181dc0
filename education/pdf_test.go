package education

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/boombuler/barcode/qr"

	"github.com/azora-os/azora/shared/errs"
)

const pdfTestURL = "https://azora.example/api/v1/certificates/0199a3b4-7c1d-7e2f-9a0b-1c2d3e4f5a6b/verify"

func pdfTestCertificate(name string) Certificate {
	return Certificate{
		ID:          "0199a3b4-7c1d-7e2f-9a0b-1c2d3e4f5a6b",
		UserID:      "0199a3b4-0000-7000-8000-000000000001",
		CourseID:    "0199a3b4-0000-7000-8000-000000000002",
		CourseTitle: "Distributed Systems: Consensus & Replication",
		LearnerName: name,
		// 23:30 on 1 January in New York is 2 January in UTC.
		IssuedAt: time.Date(2026, 1, 1, 23, 30, 0, 0, time.FixedZone("EST", -5*3600)),
		KeyID:    "kid",
	}
}

// pdfWrite writes pdf to a temporary file and returns its path.
func pdfWrite(t *testing.T, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "certificate.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfTool runs a poppler tool (Debian's poppler-utils, which .ci/run
// installs) and returns its output.
func pdfTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed (Debian: apt-get install poppler-utils)", name)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return out
}

// pdfText is the text pdftotext reads from pdf, runs of white space made
// single spaces.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	out := pdfTool(t, "pdftotext", "-enc", "UTF-8", pdfWrite(t, pdf), "-")
	return strings.Join(strings.Fields(string(out)), " ")
}

func TestPDFRenderShowsTheCertificate(t *testing.T) {
	tests := []struct{ name, learner string }{
		{"ascii", "Ada Lovelace"},
		{"polish and diaeresis", "Zoë Łukasiewicz"},
		{"romanian comma below", "Ștefan Țițeica"},
		{"turkish", "Gökçe Işık Ağaoğlu"},
		{"nordic and german", "Søren Åström-Müßig"},
		{"greek", "Αριστοτέλης Παπαδόπουλος"},
		{"cyrillic", "Дмитрий Менделеев"},
		{"decomposed input", "Zoe\u0308 Bjo\u0308rk"}, // printed composed: Zoë Björk
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := pdfTestCertificate(tt.learner)
			pdf, err := PDF{}.Render(c, pdfTestURL)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[len(pdf)-16:], []byte("%%EOF")) {
				t.Fatalf("got %q … %q, want a PDF from %%PDF- to %%%%EOF", pdf[:8], pdf[len(pdf)-8:])
			}
			text := pdfText(t, pdf)
			wantName := tt.learner
			if tt.name == "decomposed input" {
				wantName = "Zoë Björk"
			}
			for _, want := range []string{
				"Certificate of Completion", wantName, "has completed", c.CourseTitle,
				"2 January 2026", c.ID,
			} {
				if !strings.Contains(text, want) {
					t.Errorf("the text does not show %q; got %q", want, text)
				}
			}
			// The URL may be wrapped; it must be all there, in order.
			if !strings.Contains(strings.ReplaceAll(text, " ", ""), pdfTestURL) {
				t.Errorf("the text does not show the verification URL; got %q", text)
			}
			if strings.ContainsRune(text, '\uFFFD') {
				t.Errorf("a letter is missing from the fonts: %q", text)
			}
		})
	}
}

func TestPDFRenderMarksLettersItCannotDraw(t *testing.T) {
	// Vietnamese letters with stacked accents and CJK are outside the Go
	// fonts: each must show as U+FFFD, not vanish or turn into a space.
	pdf, err := PDF{}.Render(pdfTestCertificate("Nguyễn 李"), pdfTestURL)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, "Nguy\uFFFDn \uFFFD") {
		t.Fatalf("got %q, want the name as %q", text, "Nguy\uFFFDn \uFFFD")
	}
}

func TestPDFRenderLongFields(t *testing.T) {
	c := pdfTestCertificate(strings.Repeat("Maximiliana Wolfeschlegelsteinhausen ", 6))
	c.CourseTitle = strings.Repeat("An Extremely Thorough Introduction to Everything ", 8)
	url := pdfTestURL + "?" + strings.Repeat("x", 150)
	pdf, err := PDF{}.Render(c, url)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Maximiliana Wolfeschlegelsteinhausen", "An Extremely Thorough", "…", c.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("the text does not show %q; got %q", want, text)
		}
	}
	if !strings.Contains(strings.ReplaceAll(text, " ", ""), url) {
		t.Errorf("the wrapped URL is not all there; got %q", text)
	}

	// A QR code holds at most a few thousand characters.
	_, err = PDF{}.Render(c, pdfTestURL+"?"+strings.Repeat("x", 4000))
	if errs.KindOf(err) != errs.Internal {
		t.Fatalf("an over-long URL: got %v, want an internal error", err)
	}
}

func TestPDFRenderIsDeterministic(t *testing.T) {
	c := pdfTestCertificate("Zoë Łukasiewicz")
	a, err := PDF{}.Render(c, pdfTestURL)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 8)
	errc := make([]error, 8)
	for i := range outs {
		wg.Go(func() { outs[i], errc[i] = PDF{}.Render(c, pdfTestURL) })
	}
	wg.Wait()
	for i := range outs {
		if errc[i] != nil || !bytes.Equal(outs[i], a) {
			t.Fatalf("concurrent render %d: got %d bytes (%v), want the same %d bytes", i, len(outs[i]), errc[i], len(a))
		}
	}
	c.ID = "0199a3b4-7c1d-7e2f-9a0b-000000000000"
	if b, _ := (PDF{}).Render(c, pdfTestURL); bytes.Equal(a, b) {
		t.Fatal("two certificates gave the same PDF")
	}
}

// TestPDFRenderQRCode rasterises the page with pdftoppm and reads the QR
// code's modules back from the pixels: the page must carry exactly the QR
// code of the verification URL, with the white quiet zone of four modules
// around it that readers need.
func TestPDFRenderQRCode(t *testing.T) {
	tests := []struct{ name, url string }{
		{"short", "https://a.example/v"},
		{"typical", pdfTestURL},
		{"long", pdfTestURL + "?" + strings.Repeat("q", 300)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pdf, err := PDF{}.Render(pdfTestCertificate("Ada Lovelace"), tt.url)
			if err != nil {
				t.Fatal(err)
			}
			// The code and a margin wider than its quiet zone, at 3 px per pt.
			const scale, margin = 3, 30.0
			left, top := qrX-margin, qrY-margin // variables: a constant float cannot become an int
			x0, y0 := int(left*scale), int(top*scale)
			page := pdfRasterise(t, pdf, 72*scale, x0, y0, int((qrSize+2*margin)*scale))
			want, err := qr.Encode(tt.url, qr.M, qr.Auto)
			if err != nil {
				t.Fatal(err)
			}
			n := want.Bounds().Dx()
			module := qrSize / float64(n)
			wrong := 0
			for my := -4; my < n+4; my++ {
				for mx := -4; mx < n+4; mx++ {
					// The pixel at the module's centre.
					x := int((qrX+(float64(mx)+0.5)*module)*scale) - x0
					y := int((qrY+(float64(my)+0.5)*module)*scale) - y0
					inside := mx >= 0 && my >= 0 && mx < n && my < n
					expect := inside && dark(want.At(mx, my))
					if dark(page.At(x, y)) != expect {
						wrong++
						if wrong <= 5 {
							t.Errorf("module (%d, %d): got dark %v, want %v", mx, my, !expect, expect)
						}
					}
				}
			}
			if wrong > 0 {
				t.Fatalf("%d of %d modules differ from the QR code of the URL", wrong, (n+8)*(n+8))
			}
		})
	}
}

// pdfRasterise renders the size × size pixel square at (x, y) of pdf's page
// at dpi with pdftoppm.
func pdfRasterise(t *testing.T, pdf []byte, dpi, x, y, size int) image.Image {
	t.Helper()
	base := filepath.Join(t.TempDir(), "page")
	itoa := strconv.Itoa
	pdfTool(t, "pdftoppm", "-png", "-r", itoa(dpi), "-x", itoa(x), "-y", itoa(y), "-W", itoa(size), "-H", itoa(size),
		"-singlefile", pdfWrite(t, pdf), base)
	f, err := os.Open(base + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return page
}

func BenchmarkRender(b *testing.B) {
	c := pdfTestCertificate("Zoë Łukasiewicz")
	for b.Loop() {
		if _, err := (PDF{}).Render(c, pdfTestURL); err != nil {
			b.Fatal(err)
		}
	}
}
