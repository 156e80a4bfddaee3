package rtmp

import (
	"errors"
	"fmt"

	"github.com/scopecast/scopecast/rtmp/amf"
	"github.com/scopecast/scopecast/scope"
	"github.com/scopecast/scopecast/stream"
	"github.com/scopecast/scopecast/stream/flv"
)

// Status codes sent in onStatus and command replies (PROTOCOL.md, Streams).
const (
	codeConnectSuccess    = "NetConnection.Connect.Success"
	codeConnectRejected   = "NetConnection.Connect.Rejected"
	codeConnectInvalidApp = "NetConnection.Connect.InvalidApp"
	codeReconnectRequest  = "NetConnection.Connect.ReconnectRequest"
	codeCallFailed        = "NetConnection.Call.Failed"

	codePublishStart      = "NetStream.Publish.Start"
	codePublishBadName    = "NetStream.Publish.BadName"
	codeUnpublishSuccess  = "NetStream.Unpublish.Success"
	codePlayReset         = "NetStream.Play.Reset"
	codePlayStart         = "NetStream.Play.Start"
	codePlayStop          = "NetStream.Play.Stop"
	codePlayFailed        = "NetStream.Play.Failed"
	codePlayNotFound      = "NetStream.Play.StreamNotFound"
	codePlayPublishNotify = "NetStream.Play.PublishNotify"
	codePlayUnpubNotify   = "NetStream.Play.UnpublishNotify"
	codePauseNotify       = "NetStream.Pause.Notify"
	codeUnpauseNotify     = "NetStream.Unpause.Notify"
	codeSeekFailed        = "NetStream.Seek.Failed"
	codeSeekNotify        = "NetStream.Seek.Notify"
	codePlayComplete      = "NetStream.Play.Complete" // in onPlayStatus, not onStatus
	codeRecordStart       = "NetStream.Record.Start"
	codeRecordStop        = "NetStream.Record.Stop"
	codeRecordNoAccess    = "NetStream.Record.NoAccess"
	codeFailed            = "NetStream.Failed"
)

func statusObject(level, code, desc string) *amf.Object {
	return amf.Obj("level", level, "code", code, "description", desc)
}

// connectFailure maps a scope.Connect error to the _error information object
// (the one place where connect errors become RTMP status codes).
func connectFailure(app string, err error) *amf.Object {
	var rej *scope.RejectError
	switch {
	case errors.Is(err, scope.ErrInvalidApp):
		return statusObject("error", codeConnectInvalidApp, fmt.Sprintf("Application %q is not installed.", app))
	case errors.As(err, &rej):
		o := statusObject("error", codeConnectRejected, "Connection rejected: "+rej.Reason)
		o.Set("application", rej.Reason)
		return o
	default:
		o := statusObject("error", codeConnectRejected, "Connection rejected: "+err.Error())
		o.Set("application", err.Error())
		return o
	}
}

// publishFailure maps a scope.Publish error to an onStatus object.
func publishFailure(name string, err error) *amf.Object {
	var rej *scope.RejectError
	switch {
	case errors.Is(err, scope.ErrBadName), errors.Is(err, stream.ErrPublishing):
		return statusObject("error", codePublishBadName, fmt.Sprintf("Stream %q is already publishing or the name is not allowed.", name))
	case errors.As(err, &rej):
		return statusObject("error", codePublishBadName, "Publish rejected: "+rej.Reason)
	default:
		return statusObject("error", codePublishBadName, "Publish failed: "+err.Error())
	}
}

// playFailure maps a scope.Subscribe error to an onStatus object.
func playFailure(name string, err error) *amf.Object {
	var rej *scope.RejectError
	switch {
	case errors.Is(err, scope.ErrBadName):
		return statusObject("error", codePlayNotFound, fmt.Sprintf("Stream name %q is not allowed.", name))
	case errors.As(err, &rej):
		return statusObject("error", codePlayFailed, "Play rejected: "+rej.Reason)
	default:
		return statusObject("error", codePlayFailed, "Play failed: "+err.Error())
	}
}

// callFailure maps an RPC error to the _error information object.
func callFailure(method string, err error) *amf.Object {
	if errors.Is(err, scope.ErrNoMethod) {
		return statusObject("error", codeCallFailed, fmt.Sprintf("Method not found (%s).", method))
	}
	var rej *scope.RejectError
	if errors.As(err, &rej) {
		return statusObject("error", codeCallFailed, rej.Reason)
	}
	return statusObject("error", codeCallFailed, err.Error())
}

// recordFailure maps why a recording could not start, or ended by itself, to
// an onStatus object: NetStream.Record.NoAccess (the live stream goes on).
// The description never carries the OS error, which names server paths; the
// server logs it.
func recordFailure(name string, err error) *amf.Object {
	var desc string
	switch {
	case errors.Is(err, ErrRecordingDisabled):
		desc = "Recording is not enabled on this server."
	case errors.Is(err, flv.ErrRecordWrite):
		desc = fmt.Sprintf("Recording of %s stopped: the file cannot be written.", name)
	case errors.Is(err, flv.ErrRecordBusy), errors.Is(err, ErrAlreadyRecording):
		desc = fmt.Sprintf("%s is already being recorded.", name)
	case errors.Is(err, flv.ErrRecordAppend):
		desc = fmt.Sprintf("The recording of %s cannot be appended to (not FLV, or damaged).", name)
	default: // flv.ErrRecordAccess and anything else
		desc = fmt.Sprintf("The recording of %s cannot be created.", name)
	}
	info := statusObject("error", codeRecordNoAccess, desc)
	info.Set("details", name)
	return info
}

// recordStatus is NetStream.Record.Start or .Stop.
func recordStatus(code, name string) *amf.Object {
	desc := "Started recording " + name + "."
	if code == codeRecordStop {
		desc = "Stopped recording " + name + "."
	}
	info := statusObject("status", code, desc)
	info.Set("details", name)
	return info
}
