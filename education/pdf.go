package education

import (
	"image"
	"image/color"
	"strings"

	"github.com/boombuler/barcode/qr"
	"github.com/signintech/gopdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
	"golang.org/x/text/unicode/norm"

	"github.com/azora-os/azora/shared/errs"
)

var _ PDFRenderer = PDF{}

// PDF draws printable certificates: one A4 landscape page. The zero value
// is ready to use and safe for concurrent use.
//
// The text is set in the Go fonts (golang.org/x/image/font/gofont, BSD
// licence): TrueType fonts with the Latin letters of every European
// language, Greek and Cyrillic, since the core PDF fonts cannot draw names
// like "Łukasiewicz". They are also free of nested composite glyphs, which
// gopdf's font subsetter drops (DejaVu's Vietnamese and accented Greek
// letters lose their accents under it).
type PDF struct{}

// The page, in points: A4 landscape.
const (
	pageW, pageH = 841.89, 595.28
	textW        = 640.0 // width of the centred lines
	qrSize       = 118.0 // side of the QR code
	qrX, qrY     = pageW - 72 - qrSize, pageH - 72 - qrSize
	footX        = 72.0
	footW        = qrX - 24 - footX // width of the lines beside the QR code
	inkGrey      = 0x1f             // the text's grey level (per channel)
	softGrey     = 0x55             // the connecting words' grey level
)

// Font families registered in each document.
const (
	regular = "go-regular"
	bold    = "go-bold"
)

// Render returns the PDF of c: a title, the learner's name, the course
// title, the issue date (UTC), the certificate id, and verifyURL as text
// and as a QR code. The same input gives the same bytes (the document
// date is c.IssuedAt). A letter the fonts lack prints as U+FFFD, never as
// another letter. Errors: internal, when verifyURL is too long for a QR
// code or the PDF cannot be built.
func (PDF) Render(c Certificate, verifyURL string) ([]byte, error) {
	code, err := qr.Encode(verifyURL, qr.M, qr.Auto)
	if err != nil {
		return nil, errs.Internalf(err, "certificate pdf: qr code")
	}
	d := &doc{}
	d.p.Start(gopdf.Config{PageSize: gopdf.Rect{W: pageW, H: pageH}, Unit: gopdf.UnitPT})
	d.p.SetInfo(gopdf.PdfInfo{
		Title:        "Certificate of Completion",
		Subject:      "Certificate " + c.ID,
		Creator:      "Azora",
		Producer:     "Azora",
		CreationDate: c.IssuedAt.UTC(),
	})
	// The default substitute is a space, which would silently drop a letter.
	opt := gopdf.TtfOption{OnGlyphNotFoundSubstitute: func(rune) rune { return '\uFFFD' }}
	if err := d.p.AddTTFFontDataWithOption(regular, goregular.TTF, opt); err != nil {
		return nil, errs.Internalf(err, "certificate pdf: font")
	}
	if err := d.p.AddTTFFontDataWithOption(bold, gobold.TTF, opt); err != nil {
		return nil, errs.Internalf(err, "certificate pdf: font")
	}
	d.p.AddPage()
	d.frame()

	// NFC, because the fonts have precomposed letters ("ë") but few
	// combining marks ("e" + U+0308).
	name, course := norm.NFC.String(c.LearnerName), norm.NFC.String(c.CourseTitle)
	d.centred(84, "Certificate of Completion", bold, 32, 32, 1, inkGrey)
	d.centred(158, "This certifies that", regular, 14, 14, 1, softGrey)
	y := d.centred(186, name, bold, 38, 22, 2, inkGrey)
	y = d.centred(y+14, "has completed", regular, 14, 14, 1, softGrey)
	d.centred(y+12, course, regular, 24, 16, 2, inkGrey)

	y = d.left(qrY+8, "Issued on "+c.IssuedAt.UTC().Format("2 January 2006"), 11)
	y = d.left(y+4, "Certificate ID: "+c.ID, 11)
	y = d.left(y+4, "Verify at:", 11)
	urlTop := y
	y = d.left(y, verifyURL, 10)
	d.p.AddExternalLink(verifyURL, footX, urlTop, footW, y-urlTop)

	m := d.qr(code)
	d.font(regular, 8)
	d.p.SetTextColor(softGrey, softGrey, softGrey)
	d.cell(qrX, qrY+qrSize+4*m+2, qrSize, 8, "Scan to verify", gopdf.Center)

	if d.err != nil {
		return nil, errs.Internalf(d.err, "certificate pdf: draw")
	}
	out, err := d.p.GetBytesPdfReturnErr()
	if err != nil {
		return nil, errs.Internalf(err, "certificate pdf: write")
	}
	return out, nil
}

// doc is the page being drawn. gopdf reports errors call by call; the
// first one sticks and Render returns it.
type doc struct {
	p   gopdf.GoPdf
	err error
}

func (d *doc) keep(err error) {
	if err != nil && d.err == nil {
		d.err = err
	}
}

func (d *doc) font(family string, pt float64) { d.keep(d.p.SetFont(family, "", pt)) }

func (d *doc) width(s string) float64 {
	w, err := d.p.MeasureTextWidth(s)
	d.keep(err)
	return w
}

func (d *doc) cell(x, y, w, h float64, s string, align int) {
	d.p.SetXY(x, y)
	d.keep(d.p.CellWithOption(&gopdf.Rect{W: w, H: h}, s, gopdf.CellOption{Align: align | gopdf.Top}))
}

// frame draws the double border.
func (d *doc) frame() {
	d.p.SetStrokeColor(0x1f, 0x4e, 0x79)
	d.p.SetLineWidth(2.5)
	d.p.RectFromUpperLeftWithStyle(24, 24, pageW-48, pageH-48, "D")
	d.p.SetLineWidth(0.75)
	d.p.RectFromUpperLeftWithStyle(32, 32, pageW-64, pageH-64, "D")
}

// centred draws s centred on the page with its top at y, at the largest
// size from maxPt down to minPt (in 2 pt steps) at which it fits one line,
// else at minPt on up to maxLines lines. It returns the y below the text.
func (d *doc) centred(y float64, s, family string, maxPt, minPt float64, maxLines int, grey uint8) float64 {
	pt, lines := d.fit(s, family, maxPt, minPt, textW, maxLines)
	d.p.SetTextColor(grey, grey, grey)
	for _, l := range lines {
		d.cell((pageW-textW)/2, y, textW, pt, l, gopdf.Center)
		y += pt * 1.25
	}
	return y
}

// left draws s at the left of the footer, wrapped on up to three lines,
// and returns the y below it.
func (d *doc) left(y float64, s string, pt float64) float64 {
	_, lines := d.fit(s, regular, pt, pt, footW, 3)
	d.p.SetTextColor(0x33, 0x33, 0x33)
	for _, l := range lines {
		d.cell(footX, y, footW, pt, l, gopdf.Left)
		y += pt * 1.3
	}
	return y
}

// fit picks the size and lines of s as centred describes and leaves the
// font set to that size. Text beyond maxLines is cut with an ellipsis.
func (d *doc) fit(s, family string, maxPt, minPt, w float64, maxLines int) (float64, []string) {
	for pt := maxPt; pt >= minPt; pt -= 2 {
		d.font(family, pt)
		if d.width(s) <= w {
			return pt, []string{s}
		}
	}
	d.font(family, minPt)
	lines, err := d.p.SplitTextWithWordWrap(s, w)
	if err != nil || len(lines) == 0 {
		d.keep(err)
		return minPt, []string{s}
	}
	if len(lines) > maxLines {
		lines = lines[:maxLines]
		last := []rune(strings.TrimSpace(lines[maxLines-1]))
		for len(last) > 0 && d.width(string(last)+"…") > w {
			last = last[:len(last)-1]
		}
		lines[maxLines-1] = string(last) + "…"
	}
	return minPt, lines
}

// qr draws code's dark modules as filled rectangles (vector, so it stays
// sharp in print), one per horizontal run, and returns the module size.
// Nothing else is drawn within four modules of the code (the quiet zone
// readers need): the footer text stops 24 pt to its left and the caption
// goes below the zone.
func (d *doc) qr(code image.Image) float64 {
	b := code.Bounds()
	m := qrSize / float64(b.Dx())
	d.p.SetFillColor(0, 0, 0)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; {
			if !dark(code.At(x, y)) {
				x++
				continue
			}
			end := x
			for end < b.Max.X && dark(code.At(end, y)) {
				end++
			}
			d.p.RectFromUpperLeftWithStyle(qrX+float64(x-b.Min.X)*m, qrY+float64(y-b.Min.Y)*m, float64(end-x)*m, m, "F")
			x = end
		}
	}
	return m
}

func dark(c color.Color) bool { return color.GrayModel.Convert(c).(color.Gray).Y < 0x80 }
