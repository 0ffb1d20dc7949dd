import type { Metadata } from "next";
import { Keys } from "./view";

export const metadata: Metadata = { title: "Keys" };

export default function Page() {
  return <Keys />;
}
