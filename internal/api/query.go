package api

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// serveQuery serves awsQuery calls (form Action=...): the service is the one
// the SigV4 credential scope names.
func (rt *Router) serveQuery(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) {
	svcName, opLabel := "unknown", "unknown"
	xmlns := ""
	fail := func(e *Error) {
		rt.metrics.observe(svcName, opLabel, e.Code, start)
		writeXMLError(w, xmlns, reqID, e)
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		fail(&Error{Code: "InvalidAction", Status: http.StatusMethodNotAllowed, Message: "Unsupported HTTP method."})
		return
	}
	body, e := rt.readBody(w, r, rt.bodyLimit(nil, ""))
	if e != nil {
		fail(e)
		return
	}
	raw := body
	if body, e = inflate(r, body, rt.bodyLimit(nil, "")); e != nil {
		fail(e)
		return
	}
	form := r.URL.Query()
	if r.Method == http.MethodPost && len(body) > 0 {
		bodyForm, err := url.ParseQuery(string(body))
		if err != nil {
			fail(Errorf("MalformedQueryString", "The request body is not a valid form."))
			return
		}
		for k, v := range bodyForm {
			form[k] = append(form[k], v...)
		}
	}
	action := form.Get("Action")
	if action == "" {
		fail(Errorf("MissingAction", "Missing Action"))
		return
	}
	id, e := rt.authenticate(r, raw, "", true)
	if e != nil {
		fail(e)
		return
	}
	svc := rt.query[id.Service]
	if svc == nil {
		fail(Errorf("InvalidAction", "The action %s is not valid for this web service.", sanitizeTarget(action)))
		return
	}
	svcName, xmlns = svc.Name, svc.XMLNS
	h := svc.Handlers[action]
	if h == nil {
		fail(Errorf("InvalidAction", "The action %s is not valid for this web service.", sanitizeTarget(action)))
		return
	}
	opLabel = action
	if v := form.Get("Version"); v != "" && v != svc.Version {
		fail(Errorf("InvalidAction", "Could not find operation %s for version %s", sanitizeTarget(action), sanitizeTarget(v)))
		return
	}
	req := &Request{
		Scope:     tenant.Scope{Account: id.Account, Region: id.Region},
		Identity:  id,
		Operation: action,
		RequestID: reqID,
		Body:      body,
		Form:      form,
	}
	out, err := h(r.Context(), req)
	if err != nil {
		fail(rt.mapError(r.Context(), svc.Name, action, svc.MapError, err))
		return
	}
	buf, err := encodeQueryResponse(svc.XMLNS, action, reqID, out)
	if err != nil {
		fail(rt.mapError(r.Context(), svc.Name, action, nil, err))
		return
	}
	rt.metrics.observe(svcName, opLabel, "200", start)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	_, _ = w.Write(buf)
}

// encodeQueryResponse writes
// <ActionResponse xmlns><ActionResult>out's fields</ActionResult><ResponseMetadata/></ActionResponse>.
func encodeQueryResponse(xmlns, action, reqID string, out any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	start := xml.StartElement{Name: xml.Name{Local: action + "Response"}}
	if xmlns != "" {
		start.Attr = []xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: xmlns}}
	}
	if err := enc.EncodeToken(start); err != nil {
		return nil, err
	}
	if err := enc.EncodeElement(out, xml.StartElement{Name: xml.Name{Local: action + "Result"}}); err != nil {
		return nil, err
	}
	if err := enc.EncodeElement(responseMetadata{RequestID: reqID}, xml.StartElement{Name: xml.Name{Local: "ResponseMetadata"}}); err != nil {
		return nil, err
	}
	if err := enc.EncodeToken(start.End()); err != nil {
		return nil, err
	}
	if err := enc.Flush(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	XMLNS     string   `xml:"xmlns,attr,omitempty"`
	Error     xmlError `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type xmlError struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func writeXMLError(w http.ResponseWriter, xmlns, reqID string, e *Error) {
	typ := "Sender"
	if e.status() >= 500 {
		typ = "Receiver"
	}
	buf, _ := xml.Marshal(xmlErrorResponse{XMLNS: xmlns, Error: xmlError{Type: typ, Code: e.Code, Message: e.Message}, RequestID: reqID})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.status())
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(buf)
}
