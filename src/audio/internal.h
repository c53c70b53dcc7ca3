/*
 * internal.h - names shared by the files of the audio module (not part of sdra/audio.h).
 */
#ifndef SDRA_AUDIO_INTERNAL_H
#define SDRA_AUDIO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "sdra/audio.h"

/* The one line (after "<input>: ") for a playlist, concat script or manifest. */
#define AUDIO_PLAYLIST_REFUSED "playlists are not accepted; upload the audio itself"
#define AUDIO_SEALED_REFUSED "an sdra-encrypted file is not a recording; upload the audio itself"

/* True when head[0, n) is text that refers to other media: an M3U/M3U8 (HLS) or PLS playlist,
 * an ffconcat script, an SDP, DASH, SMIL, ASX, XSPF or IMF document, or a plain list whose
 * lines are URLs or absolute paths. Binary data is never a playlist. */
bool audio_sniff_is_playlist(const void *head, size_t n);

#endif
