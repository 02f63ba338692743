"""How the web chat looks: the gradio theme and the CSS for answers, sources and documents.

The interface font is IBM Plex Sans, which gradio ships (no request leaves the
machine); quotes and document text use the reader's own book serif.
"""

from __future__ import annotations

import gradio as gr

__all__ = ["CSS", "SCRIPT", "theme"]

_HOVER_RULES = "\n".join(f".rag-answer:has(.cite-{n}:hover) .source-{n}," for n in range(1, 21)).rstrip(",")

CSS = (
    """
:root { --rag-accent: #4f46e5; --rag-accent-soft: #eef2ff; --rag-ink: #1f2937; --rag-muted: #6b7280;
        --rag-line: #e5e7eb; --rag-quote-bg: #fff3b0;
        --rag-serif: Charter, 'Bitstream Charter', 'Iowan Old Style', Georgia, Cambria, 'Liberation Serif', serif; }
.dark { --rag-accent: #a5b4fc; --rag-accent-soft: #1e1b4b; --rag-ink: #e5e7eb; --rag-muted: #9ca3af;
        --rag-line: #374151; --rag-quote-bg: #665c1e; }
.gradio-container { max-width: 1180px !important; margin: 0 auto !important; }
footer { display: none !important; }

/* header */
#rag-header { padding: 6px 2px 2px; }
#rag-header h1 { font-size: 1.6rem; font-weight: 600; margin: 0 0 2px; color: var(--rag-ink); letter-spacing: -0.01em; }
#rag-header p { margin: 0; color: var(--rag-muted); font-size: 1rem; }

/* chat */
#rag-chat .message-content, #rag-chat .message { font-size: 15px; }
#rag-chat .placeholder-content { padding: 24px; }
.rag-question { white-space: pre-wrap; overflow-wrap: anywhere; }
.rag-question-note { color: var(--rag-muted); font-size: 0.85em; }
.rag-answer { color: var(--rag-ink); line-height: 1.55; overflow-wrap: anywhere; }
.rag-answer p { margin: 0; }
.rag-answer-text { font-size: 1rem; margin-bottom: 12px !important; }
a.cite-marker { display: inline-block; min-width: 1.5em; padding: 0 0.35em; margin: 0 1px; border-radius: 999px;
  background: var(--rag-accent-soft); color: var(--rag-accent) !important; font-size: 0.78em; font-weight: 600;
  line-height: 1.45; text-align: center; text-decoration: none !important; vertical-align: 0.12em; cursor: pointer; }
a.cite-marker:hover { background: var(--rag-accent); color: #fff !important; }
.rag-sources-heading, .rag-related-heading { font-size: 0.72rem; font-weight: 600; letter-spacing: 0.07em;
  text-transform: uppercase; color: var(--rag-muted); margin: 4px 0 6px; }
.rag-source { border: 1px solid var(--rag-line); border-left: 4px solid var(--rag-accent); border-radius: 8px;
  padding: 10px 14px; margin: 8px 0; background: var(--block-background-fill, #fff);
  transition: box-shadow 0.15s, background 0.15s; scroll-margin: 12px; }
.rag-source:target,
"""
    + _HOVER_RULES
    + """ { background: var(--rag-accent-soft); box-shadow: 0 0 0 2px var(--rag-accent); }
.rag-source-head { display: flex; align-items: baseline; gap: 8px; }
.rag-source-n { flex: none; display: inline-block; min-width: 1.5em; padding: 0 0.35em; border-radius: 999px;
  background: var(--rag-accent); color: #fff; font-size: 0.75rem; font-weight: 600; text-align: center;
  line-height: 1.5; }
.rag-source-title { font-weight: 600; color: var(--rag-ink); }
.rag-source-meta { color: var(--rag-muted); font-size: 0.85rem; margin-top: 1px; }
blockquote.rag-context { font-family: var(--rag-serif); font-size: 1rem; line-height: 1.65; color: var(--rag-ink);
  margin: 8px 0 4px !important; padding: 0 !important; border: none !important; font-style: normal; quotes: none; }
blockquote.rag-context::before, blockquote.rag-context::after { content: none !important; }
mark.rag-quote, mark.rag-quoted { background: var(--rag-quote-bg); color: inherit; padding: 1px 2px; border-radius: 3px;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
.rag-source-foot, .rag-timings { font-size: 0.72rem; color: var(--rag-muted); opacity: 0.85; }
.rag-timings { margin-top: 6px; }

/* a language model's draft while it streams: plainly not the answer yet */
.rag-draft { color: var(--rag-muted); line-height: 1.55; overflow-wrap: anywhere; }
.rag-draft-note { display: inline-flex; align-items: center; gap: 6px; font-size: 0.8rem; font-weight: 600;
  color: var(--rag-accent); margin-bottom: 6px; }
.rag-draft-note::before { content: ""; width: 8px; height: 8px; border-radius: 50%; background: var(--rag-accent);
  animation: rag-pulse 1.2s ease-in-out infinite; }
@keyframes rag-pulse { 50% { opacity: 0.25; } }
.rag-draft-text { margin: 0 0 6px !important; padding: 6px 10px !important; border-left: 3px dashed var(--rag-line);
  font-style: italic; white-space: pre-wrap; }
.rag-draft-foot { font-size: 0.72rem; opacity: 0.85; }

/* what the language model did for an answer */
.rag-generation { font-size: 0.82rem; color: var(--rag-muted); margin: -4px 0 10px; }
.rag-generation-line { margin: 0 0 2px !important; }
.rag-removed { margin: 6px 0 4px; padding: 6px 10px; border: 1px dashed var(--rag-line); border-radius: 6px; }
.rag-removed-heading { font-weight: 600; color: #b45309; }
.dark .rag-removed-heading { color: #fbbf24; }
.rag-removed ul { margin: 2px 0 0 18px !important; padding: 0 !important; }
.rag-removed li { text-decoration: line-through; text-decoration-color: rgba(180, 83, 9, 0.5); }
.rag-removed-reason { text-decoration: none; display: inline-block; font-size: 0.9em; opacity: 0.8; }
details.rag-model-draft { margin-top: 4px; }
details.rag-model-draft summary { cursor: pointer; }
details.rag-model-draft p { white-space: pre-wrap; font-style: italic; margin: 4px 0 0 !important;
  padding-left: 10px !important; border-left: 3px dashed var(--rag-line); }

/* refusal: plainly not an answer */
.rag-refusal { font-weight: 600; margin-bottom: 10px !important; }
.rag-weak-support { border-left: 3px solid #c77c02; background: #fff7e6; color: #5c3b00;
  padding: 6px 10px; margin: 6px 0 10px !important; }
.rag-related { border: 1px dashed var(--rag-line); border-radius: 8px; padding: 8px 14px; opacity: 0.92; }
.rag-passage { padding: 6px 0; border-top: 1px solid var(--rag-line); }
.rag-related-heading + .rag-passage { border-top: none; }
.rag-passage-meta { color: var(--rag-muted); font-size: 0.8rem; }
.rag-passage-title { font-weight: 600; font-size: 0.9rem; color: var(--rag-muted); }
.rag-passage-text { font-family: var(--rag-serif); font-size: 0.92rem; color: var(--rag-muted);
  margin-top: 2px !important; }

/* A draft is replaced in a moment and an error is no answer: neither takes a vote (a vote on
   them was ignored anyway), so gradio's like/dislike buttons are hidden under them. */
#rag-chat .bot:has(.rag-draft) .message-buttons,
#rag-chat .bot:has(.rag-error) .message-buttons { display: none; }

.rag-filter-note { color: var(--rag-muted); font-size: 0.9rem; margin-top: 2px !important; }

/* errors and notices */
.rag-error { border-left: 4px solid #dc2626; padding: 4px 0 4px 12px; }
.rag-error-title { font-weight: 600; color: #b91c1c; }
.dark .rag-error-title { color: #fca5a5; }
.rag-notice { border-radius: 8px; padding: 8px 12px; font-size: 0.92rem; overflow-wrap: anywhere; }
.rag-notice p { margin: 0; }
.rag-notice ul { margin: 4px 0 0 18px; padding: 0; }
.rag-notice-ok { background: #ecfdf5; color: #065f46; border: 1px solid #a7f3d0; }
.rag-notice-warn { background: #fffbeb; color: #92400e; border: 1px solid #fde68a; }
.rag-notice-error { background: #fef2f2; color: #991b1b; border: 1px solid #fecaca; }
.dark .rag-notice-ok, .dark .rag-notice-warn, .dark .rag-notice-error {
  background: transparent; color: var(--rag-ink); }

/* documents */
#rag-doc-list .wrap { flex-direction: column; gap: 4px; }
#rag-doc-list label { width: 100%; }
.rag-document { max-width: 46rem; margin: 0 auto; color: var(--rag-ink); }
.rag-doc-title { font-size: 1.45rem; font-weight: 600; margin: 4px 0 2px; line-height: 1.3; }
.rag-doc-byline { color: var(--rag-muted); font-size: 1rem; }
.rag-doc-facts { color: var(--rag-muted); font-size: 0.8rem; margin-top: 2px; }
.rag-doc-facts a { color: var(--rag-accent); }
.rag-doc-quoted { display: inline-block; margin: 10px 0 4px; font-size: 0.85rem; padding: 2px 10px;
  border-radius: 999px; background: var(--rag-quote-bg); color: var(--rag-ink); }
.rag-doc-quoted-none { background: transparent; color: var(--rag-muted); padding-left: 0; }
.rag-doc-body { font-family: var(--rag-serif); font-size: 1.05rem; line-height: 1.75; margin-top: 10px; }
.rag-doc-p { margin: 0 0 1em; white-space: pre-wrap; overflow-wrap: anywhere; }
.rag-empty { color: var(--rag-muted); padding: 40px 8px; text-align: center; }

/* saved conversations, settings and export */
#rag-conversations .wrap { flex-direction: column; gap: 4px; max-height: 260px; overflow-y: auto; flex-wrap: nowrap; }
#rag-conversations label { width: 100%; font-size: 0.88rem; }
.rag-settings-summary { margin: 0 0 6px 18px !important; padding: 0 !important; font-size: 0.88rem;
  color: var(--rag-muted); }

/* a phone: the columns stack, so none may be wider than the screen */
@media (max-width: 600px) {
  .gradio-container .column { min-width: 0 !important; }
  #rag-chat .message-wrap .message { max-width: 100% !important; }
}
"""
)

# Run once when the page loads (gradio's `launch(js=...)`). A new answer opens at its TOP: gradio would
# scroll the chat to its end, which on a phone leaves the start of a long answer above the fold. Each
# answer seen for the first time (a new one, or the last of a reopened conversation) is scrolled to its
# first line, in the chat and in the window; while a model drafts, the draft's start is shown once.
SCRIPT = """
() => {
  const seen = new Set();
  let questions = 0;
  const reveal = () => {
    const chat = document.querySelector('#rag-chat');
    if (!chat) return;
    const asked = chat.querySelectorAll('.rag-question').length;
    const fresh = [...chat.querySelectorAll('.rag-answer[id^="answer-"]')].filter((a) => !seen.has(a.id));
    fresh.forEach((a) => seen.add(a.id));
    let target = fresh.length ? fresh[fresh.length - 1] : null;
    if (!target && asked > questions) target = chat.querySelector('.rag-draft');
    questions = asked;
    if (target) target.scrollIntoView({ block: 'start', behavior: 'instant' });
  };
  let pending = null;
  new MutationObserver(() => {
    clearTimeout(pending);
    pending = setTimeout(reveal, 60);
  }).observe(document.body, { childList: true, subtree: true });
}
"""


def theme() -> gr.themes.Base:
    # Plex's Bold file, not its SemiBold one: gradio ships the SemiBold as a small subset.
    return gr.themes.Default(
        primary_hue="indigo",
        neutral_hue="slate",
        font=[gr.themes.LocalFont("IBM Plex Sans", weights=(400, 700)), "system-ui", "sans-serif"],
    )
