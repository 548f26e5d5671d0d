// dllm serve web chat: streams /v1/chat/completions with denoising frames and draws the canvas.
"use strict";

const $ = (id) => document.getElementById(id);
const MASK = "\u2591";
const END = "\u00b7";
let history = [];
let info = null;

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = $("key").value.trim();
  if (key) h["Authorization"] = "Bearer " + key;
  return h;
}

async function loadInfo() {
  const response = await fetch("/v1/dllm/info", { headers: headers() });
  if (!response.ok) {
    $("status").textContent = "info: " + (await errorText(response));
    return;
  }
  info = await response.json();
  $("model").textContent = `${info.model} (${info.family}, ${info.generator})`;
  $("generator").replaceChildren(...info.generators.map((name) => new Option(name, name, false, name === info.generator)));
  for (const [id, role] of [["length", "length"], ["steps", "steps"], ["block", "block"]]) {
    if ($(id).value === "") $(id).value = info.defaults[role] ?? "";  // keep what the user typed
  }
}

async function errorText(response) {
  try {
    return (await response.json()).error.message;
  } catch (_) {
    return response.status + " " + response.statusText;
  }
}

function number(id) {
  const value = $(id).value;
  return value === "" ? undefined : Number(value);
}

function addTurn(role, text) {
  const div = document.createElement("div");
  div.className = "turn " + role;
  div.textContent = text;
  $("chat").appendChild(div);
  div.scrollIntoView();
  return div;
}

function drawCanvas(div, tokens, previous) {
  const canvas = document.createElement("div");
  canvas.className = "canvas";
  tokens.forEach((piece, i) => {
    const cell = document.createElement("span");
    const special = piece === "";  // EOS / end of turn
    cell.className = "cell" + (piece === null ? " mask" : "") + (special ? " special" : "") +
      (piece !== null && previous && previous[i] === null ? " new" : "");
    cell.textContent = piece === null ? MASK : special ? END : piece;
    canvas.appendChild(cell);
  });
  div.replaceChildren(canvas);
}

async function* events(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      yield { name, data };
    }
  }
}

async function ask(text) {
  $("status").textContent = "";
  history.push({ role: "user", content: text });
  addTurn("user", text);
  const div = addTurn("assistant", "");
  div.dataset.state = "running";
  const body = {
    messages: history, stream: true, stream_options: { include_usage: true },
    max_tokens: number("length"), temperature: number("temperature"), seed: number("seed"),
    dllm: { steps: number("steps"), block_length: number("block"), generator: $("generator").value || undefined,
            denoising: true },
  };
  $("send").disabled = true;
  try {
    const response = await fetch("/v1/chat/completions", { method: "POST", headers: headers(), body: JSON.stringify(body) });
    if (!response.ok) throw new Error(await errorText(response));
    let answer = "", previous = null, stats = null;
    for await (const event of events(response)) {
      if (event.data === "[DONE]") break;
      const data = JSON.parse(event.data);
      if (data.error) throw new Error(data.error.message);
      if (event.name === "denoise") {
        drawCanvas(div, data.tokens, previous);
        previous = data.tokens;
      } else if (data.choices && data.choices.length && data.choices[0].delta.content) {
        answer += data.choices[0].delta.content;
      } else if (data.usage) {
        stats = data;
      }
    }
    div.textContent = answer;
    if (stats) {
      const line = document.createElement("div");
      line.className = "stats";
      line.textContent = `${stats.usage.completion_tokens} tokens · NFE ${stats.dllm.nfe} · ` +
        `${stats.dllm.tokens_per_second} tokens/s · ${stats.dllm.seconds} s`;
      div.appendChild(line);
    }
    history.push({ role: "assistant", content: answer });
    div.dataset.state = "done";
  } catch (error) {
    $("status").textContent = error.message;
    div.dataset.state = "error";
    history.pop();
  } finally {
    $("send").disabled = false;
  }
}

$("ask").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("prompt").value.trim();
  if (!text) return;
  $("prompt").value = "";
  ask(text);
});
$("reset").addEventListener("click", () => { history = []; $("chat").replaceChildren(); });
$("key").addEventListener("change", loadInfo);
loadInfo();
