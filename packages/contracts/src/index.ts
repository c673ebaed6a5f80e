export * from "./duration";
export * from "./endpoint";
export * from "./enums";
export * from "./headers";
export * from "./ids";
export * from "./messages";
export * from "./names";
export * from "./provision";
