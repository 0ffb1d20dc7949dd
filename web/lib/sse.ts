// Reading an OpenAI-format event stream (`data: {...}` lines, `data: [DONE]` at the end) as it arrives.

export interface StreamChunk {
  text: string;
  error: string | null;
}

function parse(event: string): StreamChunk | "done" | null {
  const data = event
    .split("\n")
    .filter((line) => line.startsWith("data:"))
    .map((line) => line.slice(5).trimStart())
    .join("\n");
  if (!data) return null;
  if (data === "[DONE]") return "done";
  try {
    const payload = JSON.parse(data) as {
      choices?: { delta?: { content?: string | null } }[];
      error?: { message?: string };
    };
    if (payload.error) return { text: "", error: payload.error.message ?? "The stream failed." };
    return { text: payload.choices?.[0]?.delta?.content ?? "", error: null };
  } catch {
    return null; // a comment or keep-alive
  }
}

export async function* chatStream(body: ReadableStream<Uint8Array>): AsyncGenerator<StreamChunk> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const parsed = parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (parsed === "done") return;
        if (parsed) yield parsed;
        end = buffer.indexOf("\n\n");
      }
    }
  } finally {
    reader.releaseLock();
  }
}
