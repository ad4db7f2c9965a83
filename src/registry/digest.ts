// The one digest form berth accepts from references and registries.
export const digestRe = /^sha256:[a-f0-9]{64}$/;
