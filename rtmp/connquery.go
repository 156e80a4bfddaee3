package rtmp

import "net/url"

// ConnectQuery returns the query of the application the client connected to
// (rtmp://host/live?key=x/cam1 gives key=x: ffmpeg, OBS and librtmp put it
// in the connect command's app), empty before connect. Access rules look for
// keys there (internal/auth.ConnectQuerier). It is meant for the
// application hooks, which run on the connection's read goroutine.
func (c *Conn) ConnectQuery() url.Values {
	q, _ := url.ParseQuery(c.query) // what parses is kept
	return q
}
