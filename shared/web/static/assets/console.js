// console.js
import { el } from "./gc.js";
